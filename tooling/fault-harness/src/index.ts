/**
 * @auditrail/fault-harness — test-only fault injection for the audit writer: a TCP fault proxy in
 * front of PostgreSQL, a load generator, child-process writers to SIGTERM/SIGKILL, and the exact
 * accounting every scenario asserts.
 */
export { type FaultMode, type FaultProxy, type FaultProxyOptions, type FaultProxyStats, startFaultProxy } from "./proxy.ts";
export { type Load, type LoadOptions, type LoadResult, defaultEvent, startLoad } from "./load.ts";
export { type ChildExit, WRITER_CHILD, WriterChild, type WriterChildConfig } from "./child.ts";
export {
  type Accounting,
  type Reconciliation,
  accountingLine,
  deadLetterIds,
  printAccounting,
  reconcile,
  segmentFiles,
  spoolIds,
  storedIds,
} from "./accounting.ts";
