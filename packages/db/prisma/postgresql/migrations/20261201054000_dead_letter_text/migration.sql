-- Dead letters keep the entry as JSON text: jsonb refused some entries the writer accepts
-- (before text normalisation: U+0000, lone surrogates), and a dead letter must never be refused.
-- AlterTable
ALTER TABLE "DeadLetter" ALTER COLUMN "entry" SET DATA TYPE TEXT;
