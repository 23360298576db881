import { useEffect, useId, useState } from "react";
import * as api from "../api/client";
import type { Usage as UsageFigures, UsageDay } from "../types";

const DAYS = 30;
const count = new Intl.NumberFormat();
// Days come as the server's UTC dates: read and shown in UTC, so none shifts by one.
const dayName = new Intl.DateTimeFormat(undefined, { weekday: "short", month: "short", day: "numeric", timeZone: "UTC" });

function dayLabel(day: string): string {
  const today = new Date().toISOString().slice(0, 10);
  return day === today ? "Today" : dayName.format(new Date(`${day}T00:00:00Z`));
}

/** Who used the tokens: the app itself, or a key by its name. */
function who(row: UsageDay): string {
  return row.key_id === null ? "chatfn app" : (row.key_name ?? "A deleted key");
}

/** The rows of each day, in the order given (newest first). */
function byDay(days: UsageDay[]): [day: string, rows: UsageDay[]][] {
  const grouped = new Map<string, UsageDay[]>();
  for (const row of days) grouped.set(row.day, [...(grouped.get(row.day) ?? []), row]);
  return [...grouped];
}

/** Today's tokens against the daily budget, then each day's requests and tokens by the app and by each key. */
export function Usage() {
  const [usage, setUsage] = useState<UsageFigures | null>(null);
  const [error, setError] = useState("");
  const headingId = useId();

  useEffect(() => {
    void api.usage(DAYS).then(setUsage, (failure) => setError(api.failureText(failure, "Your usage could not be loaded.")));
  }, []);

  return (
    <section className="usage" aria-labelledby={headingId}>
      <div className="integrations-head">
        <div>
          <h3 id={headingId}>Usage</h3>
          <p className="hint">Tokens used in chats here and through your keys.</p>
        </div>
      </div>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {usage === null ? (
        !error && <p className="hint">Loading…</p>
      ) : (
        <>
          <Today budget={usage.daily_token_budget} used={usage.used_today} />
          {usage.days.length === 0 ? (
            <p className="hint">Nothing used in the last {DAYS} days.</p>
          ) : (
            <div className="usage-table-wrap" role="region" aria-label={`Usage by day, the last ${DAYS} days`} tabIndex={0}>
              <table className="usage-table">
                <caption className="visually-hidden">Requests and tokens by day and key, the last {DAYS} days</caption>
                <thead>
                  <tr>
                    <th scope="col">Day</th>
                    <th scope="col">Used by</th>
                    <th scope="col">Requests</th>
                    <th scope="col">Tokens in</th>
                    <th scope="col">Tokens out</th>
                  </tr>
                </thead>
                {byDay(usage.days).map(([day, rows]) => (
                  <tbody key={day}>
                    {rows.map((row, i) => (
                      <tr key={row.key_id ?? "app"}>
                        {i === 0 && (
                          <th scope="rowgroup" rowSpan={rows.length}>
                            {dayLabel(day)}
                          </th>
                        )}
                        <td className={row.key_id === null ? "usage-app" : undefined}>{who(row)}</td>
                        <td>{count.format(row.requests)}</td>
                        <td>{count.format(row.prompt_tokens)}</td>
                        <td>{count.format(row.completion_tokens)}</td>
                      </tr>
                    ))}
                  </tbody>
                ))}
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}

/** Today's tokens, as a bar against the budget when there is one. */
function Today({ budget, used }: { budget: number; used: number }) {
  if (budget === 0) {
    return (
      <p className="usage-today">
        <strong>{count.format(used)}</strong> tokens today. Your account has no daily budget.
      </p>
    );
  }
  const share = Math.min(1, used / budget);
  const percent = used > 0 && share < 0.01 ? "under 1%" : `${Math.round(share * 100)}%`;
  return (
    <div className="usage-today">
      <p>
        <strong>{count.format(used)}</strong> of {count.format(budget)} tokens today ({percent})
      </p>
      {/* The sentence above says it all; the bar is for the eye. */}
      <div className={share >= 0.9 ? "usage-bar usage-bar-high" : "usage-bar"} aria-hidden="true">
        <div style={{ width: `${share * 100}%` }} />
      </div>
    </div>
  );
}
