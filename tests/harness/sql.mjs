// Splits a SQL script into single statements for D1's `prepare`, which takes one statement at a time
// (D1's `exec` treats every line as a statement, so multi-line migrations break there).
// Semicolons inside quotes, identifiers, comments and CREATE TRIGGER bodies do not end a statement.
// Comments are dropped from the output.

const TRIGGER_START = /^\s*CREATE\s+(?:TEMP\s+|TEMPORARY\s+)?TRIGGER\b/i;
const WORD = /[A-Za-z_][A-Za-z0-9_$]*/y;
const BLOCK_WORDS = new Set(["BEGIN", "CASE", "END"]);

export function splitSqlStatements(sql) {
  const statements = [];
  let current = "";
  // Inside a CREATE TRIGGER, BEGIN and CASE open a block that END closes; `;` ends the statement only at depth 0.
  let blockDepth = 0;
  let i = 0;

  const finishStatement = () => {
    if (current.trim() !== "") statements.push(current.trim());
    current = "";
    blockDepth = 0;
  };

  while (i < sql.length) {
    const char = sql[i];
    const next = sql[i + 1];

    if (char === "-" && next === "-") {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? sql.length : end;
      current += " ";
    } else if (char === "/" && next === "*") {
      const end = sql.indexOf("*/", i + 2);
      if (end === -1) throw new Error("unterminated /* comment in SQL");
      i = end + 2;
      current += " ";
    } else if (char === "'" || char === '"' || char === "`" || char === "[") {
      const end = quotedEnd(sql, i);
      current += sql.slice(i, end + 1);
      i = end + 1;
    } else if (/[A-Za-z_]/.test(char)) {
      WORD.lastIndex = i;
      const word = WORD.exec(sql)[0];
      const upper = word.toUpperCase();
      if (BLOCK_WORDS.has(upper) && TRIGGER_START.test(current)) blockDepth += upper === "END" ? -1 : 1;
      current += word;
      i += word.length;
    } else if (char === ";" && blockDepth === 0) {
      finishStatement();
      i++;
    } else {
      current += char;
      i++;
    }
  }
  finishStatement();
  return statements;
}

/** Index of the quote (or `]`) closing the quoted text that starts at `start`. */
function quotedEnd(sql, start) {
  const close = sql[start] === "[" ? "]" : sql[start];
  for (let i = start + 1; i < sql.length; i++) {
    if (sql[i] !== close) continue;
    // A doubled quote ('' or "") stands for one quote character inside the text.
    if (close !== "]" && sql[i + 1] === close) {
      i++;
      continue;
    }
    return i;
  }
  throw new Error(`unterminated ${sql[start]} in SQL`);
}
