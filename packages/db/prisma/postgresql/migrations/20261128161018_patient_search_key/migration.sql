-- AlterTable
ALTER TABLE "Patient" ADD COLUMN     "searchKey" TEXT NOT NULL DEFAULT '';
