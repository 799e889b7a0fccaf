/**
 * CPU time of each thread of this process (Linux: /proc/self/task/<tid>/stat, utime + stime in
 * clock ticks of 10 ms), by thread id. Empty where /proc is not there.
 */
import { readdirSync, readFileSync } from 'node:fs';

export function threadCpuMs(): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, (Number(fields[11]) + Number(fields[12])) * 10);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}
