// Seeds the demo staff and patients into DATABASE_URL (default: the embedded SQLite file).
import { createDatabase } from "../src/client.ts";
import { seedDemoData } from "../src/seed.ts";
import { databaseUrlFromEnv, redactUrl } from "../src/url.ts";

const url = databaseUrlFromEnv();
const db = createDatabase(url);
try {
  const report = await seedDemoData(db.prisma);
  console.log(`Seeded ${redactUrl(url)}: ${report.staff.length} staff, ${report.patientsCreated} new patients.`);
} finally {
  await db.close();
}
