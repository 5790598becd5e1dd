// Safe HTML by construction: every interpolated value is escaped unless it is already markup we made.
const MARK = Symbol('html');

/** Markup made by this module; anything else interpolated into `html` is escaped. */
export interface Html {
  readonly [MARK]: true;
  readonly text: string;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Escapes text from hosts and requests for HTML: the five special characters, and control characters
 * (a terminal escape has no business in a page) shown as U+FFFD.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g, '\ufffd');
}

function isHtml(value: unknown): value is Html {
  return typeof value === 'object' && value !== null && MARK in value;
}

function render(value: unknown): string {
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  if (isHtml(value)) return value.text;
  return escapeHtml(String(value));
}

/** Tagged template: `html\`<td>${host}</td>\`` escapes `host`; nested `html` values pass through. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let text = strings[0] ?? '';
  values.forEach((value, i) => {
    text += render(value) + (strings[i + 1] ?? '');
  });
  return { [MARK]: true, text };
}

/** A constant of ours (a stylesheet) used as markup; never for text that came from outside. */
export function constantMarkup(text: string): Html {
  return { [MARK]: true, text };
}
