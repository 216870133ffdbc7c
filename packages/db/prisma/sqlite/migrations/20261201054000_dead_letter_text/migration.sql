-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_DeadLetter" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "entry" TEXT NOT NULL,
    "error" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL,
    "failedAt" DATETIME NOT NULL,
    "replayedAt" DATETIME
);
INSERT INTO "new_DeadLetter" ("attempts", "entry", "error", "failedAt", "id", "replayedAt") SELECT "attempts", "entry", "error", "failedAt", "id", "replayedAt" FROM "DeadLetter";
DROP TABLE "DeadLetter";
ALTER TABLE "new_DeadLetter" RENAME TO "DeadLetter";
CREATE INDEX "DeadLetter_failedAt_idx" ON "DeadLetter"("failedAt");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
