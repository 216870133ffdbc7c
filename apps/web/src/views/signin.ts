/** Sign in with a staff login (the API prints the demo logins, one per role, when it starts). */
import { createApi, errorMessage } from "../api.ts";
import type { View } from "../app.ts";
import { h } from "../dom.ts";
import type { Session } from "../session.ts";

export function signInView(next: string, onSignedIn: (session: Session) => void): View {
  const email = h("input", { id: "email", name: "email", type: "email", autocomplete: "username", required: true });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const status = h("p", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Audit viewer"),
    h("p", { class: "muted" }, "Sign in as the auditor or the admin. `pnpm start` prints the demo logins."),
    h("label", { for: "email" }, "Email"),
    email,
    h("label", { for: "password" }, "Password"),
    password,
    submit,
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit.disabled = true;
    status.textContent = "";
    createApi(undefined)
      .auth.login.mutate({ email: email.value.trim(), password: password.value })
      .then(({ token, user }) => onSignedIn({ token, user }))
      .catch((error: unknown) => {
        status.textContent = errorMessage(error);
        submit.disabled = false;
        password.select();
      });
  });
  queueMicrotask(() => email.focus());
  return { title: next === "/" ? "Sign in" : "Sign in to continue", node: form };
}
