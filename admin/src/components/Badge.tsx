import type { ComponentChildren } from 'preact';

export type BadgeTone = 'ok' | 'warn' | 'bad' | 'info' | 'muted';

export function Badge(props: { tone?: BadgeTone; children: ComponentChildren }) {
  return <span class={`badge badge-${props.tone ?? 'muted'}`}>{props.children}</span>;
}
