/** A progress bar; without `max` (unknown total) it shows an indeterminate stripe and the label. */
export function ProgressBar(props: { value: number; max?: number; label?: string }) {
  const pct = props.max ? Math.min(100, Math.round((props.value / props.max) * 100)) : null;
  return (
    <div class="progress" role="progressbar" aria-valuenow={props.value} aria-valuemax={props.max} data-testid="progress">
      <div class={pct === null ? 'progress-bar indeterminate' : 'progress-bar'} style={pct === null ? undefined : { width: `${pct}%` }} />
      <span class="progress-label">{props.label ?? (pct === null ? String(props.value) : `${pct}%`)}</span>
    </div>
  );
}
