// Migrations are split into single statements without breaking quoted text, comments or trigger bodies.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { splitSqlStatements } from "./harness/sql.mjs";

describe("splitSqlStatements", () => {
  it("splits on semicolons and drops comments and empty statements", () => {
    const sql = "-- a comment; with a semicolon\nCREATE TABLE a (x INT);\n/* block; comment */ INSERT INTO a VALUES (1);;\n";
    assert.deepEqual(splitSqlStatements(sql), ["CREATE TABLE a (x INT)", "INSERT INTO a VALUES (1)"]);
  });

  it("keeps semicolons and comment markers inside quotes and identifiers", () => {
    const sql = `INSERT INTO "odd;name" VALUES ('it''s; -- not a comment', "a""b;", \`c;d\`, [e;f]); SELECT 1`;
    assert.deepEqual(splitSqlStatements(sql), [
      `INSERT INTO "odd;name" VALUES ('it''s; -- not a comment', "a""b;", \`c;d\`, [e;f])`,
      "SELECT 1",
    ]);
  });

  it("keeps a trigger body, with CASE ... END inside, as one statement", () => {
    const trigger = [
      "CREATE TRIGGER t AFTER INSERT ON a BEGIN",
      "  UPDATE a SET x = CASE WHEN x = 0 THEN 1 ELSE x END;",
      "  DELETE FROM b;",
      "END",
    ].join("\n");
    assert.deepEqual(splitSqlStatements(`${trigger};\nCREATE TABLE c (y INT);`), [trigger, "CREATE TABLE c (y INT)"]);
  });

  it("does not treat BEGIN/END as blocks outside triggers", () => {
    assert.deepEqual(splitSqlStatements("CREATE TABLE backend (begin_at INT, end_at INT); SELECT 1"), [
      "CREATE TABLE backend (begin_at INT, end_at INT)",
      "SELECT 1",
    ]);
  });

  it("rejects unterminated quotes and comments", () => {
    assert.throws(() => splitSqlStatements("SELECT 'oops"), /unterminated '/);
    assert.throws(() => splitSqlStatements("SELECT 1 /* oops"), /unterminated \/\*/);
  });
});
