/** The Node.js flags of package.json's start script (`node <flags> bin/mailroom.js start`). */
export function startFlags(): string[];
