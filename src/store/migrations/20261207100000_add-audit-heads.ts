import type { Knex } from 'knex';

// Each audit lane's head (the hash of its newest record) in a row of its own, so an append is one
// statement: it locks the head row, checks that the record extends it, and inserts (issue 16;
// src/audit/audit-service.ts). The trigger keeps the head in step with every insert and refuses a
// record whose prev_hash is not the head: a lane can never fork, whatever wrote the row (an older
// version during a rolling upgrade, which still takes the advisory lock, gets an error instead of
// a fork). Heads are seeded from the records already written.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE audit_heads (
      chain smallint PRIMARY KEY,
      hash text NOT NULL
    )`);
  await knex.raw(`
    INSERT INTO audit_heads (chain, hash)
    SELECT lane, COALESCE(
      (SELECT hash FROM audit_events WHERE chain = lane ORDER BY id DESC LIMIT 1), 'genesis')
    FROM generate_series(0, 15) AS lane`);
  await knex.raw(`
    CREATE FUNCTION audit_extend_head() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE audit_heads SET hash = NEW.hash WHERE chain = NEW.chain AND hash = NEW.prev_hash;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'audit record does not extend the head of lane %', NEW.chain
          USING ERRCODE = 'serialization_failure';
      END IF;
      RETURN NEW;
    END $$`);
  await knex.raw(`
    CREATE TRIGGER audit_extend_head BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_extend_head()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TRIGGER IF EXISTS audit_extend_head ON audit_events');
  await knex.raw('DROP FUNCTION IF EXISTS audit_extend_head()');
  await knex.raw('DROP TABLE IF EXISTS audit_heads');
}
