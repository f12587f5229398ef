/** What the parts of the console share: the API with the token, the notices, and what the server and the token allow. */
import { type Api, ApiFailure } from "./api";
import { h } from "./dom";
import type { Notices } from "./notices";

export interface Session {
  readonly api: Api;
  readonly notices: Notices;
  /** whether this server has the runs routes (API.md, "Runs, progress and metrics"); undefined until asked */
  runsAvailable: boolean | undefined;
  /** polls again now */
  refresh(): void;
  /** asks whoami again: a refusal means the token's grants changed */
  accessChanged(): void;
}

/**
 * Runs a user's action: asks for confirmation first when `question` is given, disables the
 * button meanwhile, says what happened (the API's code and detail on failure, kept until
 * dismissed) and polls again so the page shows the result.
 */
export async function act(session: Session, button: HTMLButtonElement, question: string | null, action: () => Promise<string>): Promise<void> {
  if (question !== null && !window.confirm(question)) return;
  button.disabled = true;
  try {
    session.notices.confirm(await action());
  } catch (error) {
    const what = button.dataset.action ?? button.textContent ?? "action";
    if (error instanceof ApiFailure) {
      session.notices.error(`${what} failed: ${error.status} ${error.code}: ${error.detail}`);
      if (error.status === 401 || error.status === 403) session.accessChanged();
    } else session.notices.error(`${what} failed: ${String(error)}`);
  } finally {
    button.disabled = false;
    session.refresh();
  }
}

/** A button that starts an action; `label` for screen readers and errors names its unit. */
export function actionButton(text: string, label: string, onClick: (button: HTMLButtonElement) => void): HTMLButtonElement {
  const button = h("button", { type: "button", textContent: text });
  button.dataset.action = label;
  button.setAttribute("aria-label", label);
  button.addEventListener("click", () => onClick(button));
  return button;
}
