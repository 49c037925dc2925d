export { createAccountService } from './account-service.ts';
export type { AccountService, CitizenInput } from './account-service.ts';
export {
  findAccountById,
  findAccountNames,
  findAccountsByIdentifier,
  searchAccounts,
} from './account-repo.ts';
export type { Account } from './account-repo.ts';
export {
  createImportService,
  checkImportHeader,
  checkImportRow,
  IMPORT_COLUMNS,
} from './import-service.ts';
export type { ImportService, ImportReport, ImportProgress, RejectedRow } from './import-service.ts';
