-- Ledger integrity enforced by the database, not only by code.

-- No zero entries; money moves.
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_amount_nonzero CHECK (amount_fen <> 0);
--> statement-breakpoint
-- Accounts declared non-negative stay so (their cached balance is maintained below).
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_non_negative CHECK (allow_negative OR balance_fen >= 0);
--> statement-breakpoint
-- Entries are immutable: corrections are new, reversing entries.
CREATE OR REPLACE FUNCTION ledger_entries_refuse_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'ledger entries are immutable (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries FOR EACH ROW EXECUTE FUNCTION ledger_entries_refuse_change();
--> statement-breakpoint
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_refuse_change();
--> statement-breakpoint
-- The balance of a guarded (non-negative) account follows its entries in the same statement, so the CHECK above
-- sees it. Platform accounts (allowed to go negative) are not cached: updating them on every order would make
-- one hot row that all orders queue behind; their balance is the sum of their entries.
CREATE OR REPLACE FUNCTION ledger_entries_apply_balance() RETURNS trigger AS $$
BEGIN
  UPDATE ledger_accounts SET balance_fen = balance_fen + NEW.amount_fen, updated_at = now()
   WHERE id = NEW.account_id AND NOT allow_negative;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER ledger_entries_balance AFTER INSERT ON ledger_entries FOR EACH ROW EXECUTE FUNCTION ledger_entries_apply_balance();
--> statement-breakpoint
-- Every transaction balances to zero, checked at commit.
CREATE OR REPLACE FUNCTION ledger_check_balanced() RETURNS trigger AS $$
DECLARE total bigint;
BEGIN
  SELECT COALESCE(sum(amount_fen), 0) INTO total FROM ledger_entries WHERE transaction_id = NEW.transaction_id;
  IF total <> 0 THEN
    RAISE EXCEPTION 'ledger transaction % does not balance (sum %)', NEW.transaction_id, total USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
