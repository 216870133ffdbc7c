-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Patient" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "firstName" TEXT NOT NULL,
    "lastName" TEXT NOT NULL,
    "dateOfBirth" DATETIME NOT NULL,
    "email" TEXT,
    "phone" TEXT,
    "ssn" TEXT,
    "insuranceNumber" TEXT,
    "archivedAt" DATETIME,
    "searchKey" TEXT NOT NULL DEFAULT '',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);
INSERT INTO "new_Patient" ("archivedAt", "createdAt", "dateOfBirth", "email", "firstName", "id", "insuranceNumber", "lastName", "phone", "ssn", "updatedAt") SELECT "archivedAt", "createdAt", "dateOfBirth", "email", "firstName", "id", "insuranceNumber", "lastName", "phone", "ssn", "updatedAt" FROM "Patient";
DROP TABLE "Patient";
ALTER TABLE "new_Patient" RENAME TO "Patient";
CREATE INDEX "Patient_lastName_firstName_idx" ON "Patient"("lastName", "firstName");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
