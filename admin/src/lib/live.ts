import { useEffect, useRef, useState } from 'preact/hooks';

/** Frames of the /admin/live WebSocket (see the server's analytics module). */
export interface LiveFrame<T = unknown> {
  type: 'snapshot' | 'order' | 'alert' | string;
  at: string;
  data: T;
}
export type LiveStatus = 'connecting' | 'open' | 'reconnecting' | 'refused';

const REFUSED = new Set([4401, 4403]);

/**
 * Keeps a WebSocket to /admin/live open while the component is mounted:
 * the session cookie authenticates it; on a drop it reconnects with backoff
 * (1 s doubling to 15 s); a refusal (4401/4403) is final.
 */
export function useLive(onFrame: (frame: LiveFrame) => void, path = '/admin/live'): LiveStatus {
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const handler = useRef(onFrame);
  handler.current = onFrame;
  useEffect(() => {
    let socket: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let delay = 1000;
    let stopped = false;
    const connect = () => {
      const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`;
      socket = new WebSocket(url);
      socket.onopen = () => {
        delay = 1000;
        setStatus('open');
      };
      socket.onmessage = (e) => {
        try {
          handler.current(JSON.parse(String(e.data)) as LiveFrame);
        } catch {
          /* a malformed frame is dropped */
        }
      };
      socket.onclose = (e) => {
        if (stopped) return;
        if (REFUSED.has(e.code)) {
          setStatus('refused');
          return;
        }
        setStatus('reconnecting');
        timer = setTimeout(connect, delay);
        delay = Math.min(delay * 2, 15_000);
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      socket?.close(1000);
    };
  }, [path]);
  return status;
}
