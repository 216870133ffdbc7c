/**
 * The audit viewer: a single page served by the API at /. Paths are routed here (the API answers
 * every unknown GET path with this page): / the trail, /entry/:id, /live, /integrity, /writers,
 * /dead-letters, /signin.
 */
import "./style.css";
import { createApi } from "./api.ts";
import type { AppContext, View } from "./app.ts";
import { h, replace } from "./dom.ts";
import { type Session, canReplayDeadLetters, loadSession, saveSession } from "./session.ts";
import { deadLettersView } from "./views/dead-letters.ts";
import { entryView } from "./views/entry.ts";
import { healthView } from "./views/health.ts";
import { integrityView } from "./views/integrity.ts";
import { liveView } from "./views/live.ts";
import { signInView } from "./views/signin.ts";
import { trailView } from "./views/trail.ts";

const root = document.getElementById("app") as HTMLElement;
let current: View | undefined;

function navigate(path: string, options: { replace?: boolean; state?: unknown } = {}): void {
  if (options.replace) history.replaceState(options.state ?? null, "", path);
  else history.pushState(options.state ?? null, "", path);
  render();
}

function signOut(session: Session): void {
  createApi(session.token)
    .auth.logout.mutate()
    .catch(() => undefined);
  saveSession(undefined);
  navigate("/signin", { replace: true });
}

function viewFor(ctx: AppContext, path: string, params: URLSearchParams): View {
  const entry = /^\/entry\/([^/]+)$/.exec(path);
  if (entry?.[1]) return entryView(ctx, decodeURIComponent(entry[1]));
  switch (path) {
    case "/live":
      return liveView(ctx, params);
    case "/integrity":
      return integrityView(ctx);
    case "/writers":
      return healthView(ctx);
    case "/dead-letters":
      return deadLettersView(ctx);
    default:
      return trailView(ctx, params);
  }
}

function shell(ctx: AppContext, path: string, view: View): HTMLElement {
  const link = (href: string, label: string) =>
    h("a", { href, "aria-current": (href === "/" ? path === "/" || path.startsWith("/entry/") : path === href) ? "page" : null }, label);
  const { user } = ctx.session;
  return h(
    "div",
    { class: "shell" },
    h(
      "header",
      { class: "top" },
      h("a", { class: "brand", href: "/" }, "auditrail"),
      h(
        "nav",
        { "aria-label": "Sections" },
        link("/", "Trail"),
        link("/live", "Live"),
        link("/integrity", "Integrity"),
        link("/writers", "Health"),
        canReplayDeadLetters(user.role) ? link("/dead-letters", "Dead letters") : null,
      ),
      h(
        "div",
        { class: "who" },
        h("span", { title: user.email }, `${user.name} (${user.role})`),
        h("button", { type: "button", class: "link", onclick: () => ctx.signOut() }, "Sign out"),
      ),
    ),
    h("main", { id: "main", tabindex: "-1" }, view.node),
  );
}

function render(): void {
  current?.dispose?.();
  current = undefined;
  const path = location.pathname;
  const params = new URLSearchParams(location.search);
  const session = loadSession();
  if (!session || path === "/signin") {
    if (session && path === "/signin") {
      navigate("/", { replace: true });
      return;
    }
    const next = path === "/signin" ? (params.get("next") ?? "/") : path + location.search;
    current = signInView(next, (s) => {
      saveSession(s);
      navigate(next.startsWith("/") && !next.startsWith("//") ? next : "/", { replace: true });
    });
    if (path !== "/signin") history.replaceState(null, "", `/signin?next=${encodeURIComponent(next)}`);
    document.title = `${current.title} — auditrail`;
    replace(root, h("main", { id: "main", class: "center", tabindex: "-1" }, current.node));
    return;
  }
  const ctx: AppContext = { api: createApi(session.token), session, navigate, signOut: () => signOut(session) };
  current = viewFor(ctx, path, params);
  document.title = `${current.title} — auditrail`;
  replace(root, shell(ctx, path, current));
}

// Same-origin links are routed here, without a page load (modified clicks open a new tab as usual).
document.addEventListener("click", (event) => {
  const a = event.target instanceof Element ? event.target.closest("a") : null;
  if (!a || a.target || a.hasAttribute("download") || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener("popstate", render);
render();
