/** What every view gets: the typed client, who is signed in, and navigation. */
import type { Api } from "./api.ts";
import type { Session } from "./session.ts";

export interface AppContext {
  readonly api: Api;
  readonly session: Session;
  /** Goes to a path of the viewer (pushes a history entry unless `replace`). */
  navigate(path: string, options?: { replace?: boolean; state?: unknown }): void;
  signOut(): void;
}

export interface View {
  readonly title: string;
  readonly node: HTMLElement;
  /** Called when the view is left: stop timers and subscriptions. */
  dispose?(): void;
}
