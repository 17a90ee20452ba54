import { useEffect, useRef, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { t } from '../lib/i18n';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color?: string;
}

const palette = ['#2563eb', '#16a34a', '#f59e0b', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d'];

/**
 * A line or bar chart drawn by uPlot, which (with its CSS) is loaded on first
 * use so the login screen and the shell stay small. `x` is unix seconds when
 * `time` is set, otherwise 0..n-1 labelled by `xLabels`. New data of the same
 * shape is pushed into the existing plot (live dashboards do not flicker).
 */
export function Chart(props: { x: number[]; series: ChartSeries[]; time?: boolean; xLabels?: string[]; height?: number; bars?: boolean; title?: string; format?: (v: number) => string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(props);
  latest.current = props;
  const [failed, setFailed] = useState<string | null>(null);
  const data = (): uPlot.AlignedData => [latest.current.x, ...latest.current.series.map((s) => s.values)] as uPlot.AlignedData;
  const shape = JSON.stringify([props.series.map((s) => [s.label, s.color]), props.time, props.bars, props.height, props.xLabels, props.title]);

  useEffect(() => {
    let disposed = false;
    let observer: ResizeObserver | undefined;
    (async () => {
      const [{ default: UPlot }] = await Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]);
      if (disposed || !box.current) return;
      const el = box.current;
      const p = latest.current;
      const labels = p.xLabels;
      const fmt = (v: number) => (p.format ? p.format(v) : String(v));
      const opts: uPlot.Options = {
        width: Math.max(240, el.clientWidth),
        height: p.height ?? 240,
        title: p.title,
        scales: { x: { time: !!p.time } },
        axes: [labels ? { values: (_u, splits) => splits.map((s) => labels[Math.round(s)] ?? '') } : {}, { values: (_u, splits) => splits.map(fmt), size: 80 }],
        series: [
          {},
          ...p.series.map((s, i) => {
            const color = s.color ?? palette[i % palette.length]!;
            return {
              label: s.label,
              stroke: color,
              width: 2,
              fill: p.bars ? `${color}66` : undefined,
              paths: p.bars ? UPlot.paths.bars?.({ size: [0.6, 48] }) : undefined,
              value: (_u: uPlot, v: number | null) => (v === null ? '—' : fmt(v)),
            };
          }),
        ],
      };
      plot.current = new UPlot(opts, data(), el);
      observer = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(240, el.clientWidth), height: latest.current.height ?? 240 }));
      observer.observe(el);
    })().catch((e: unknown) => !disposed && setFailed(e instanceof Error ? e.message : String(e)));
    return () => {
      disposed = true;
      observer?.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape]);

  useEffect(() => {
    plot.current?.setData(data());
  }, [JSON.stringify(props.x), JSON.stringify(props.series.map((s) => s.values))]);

  if (failed) return <p class="error">{t('common.error', { message: failed })}</p>;
  return <div class="chart" ref={box} data-testid="chart" />;
}
