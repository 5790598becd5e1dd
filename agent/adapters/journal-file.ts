// The journal on disk: <stateDir>/journal.json, replaced atomically (temp, fsync, rename, fsync of the directory).
import { EnvironmentError } from '../../shared/errors.js';
import { writeFileAtomic } from '../../shared/files.js';
import { readJsonFile } from '../../shared/json.js';
import { EMPTY_JOURNAL, JournalSchema, type Journal } from '../core/journal.js';
import type { JournalStore } from '../ports.js';
import { agentStatePaths } from '../../shared/layout.js';

export class JournalCorruptError extends EnvironmentError {
  override name = 'JournalCorruptError' as const;
}

export function journalPath(stateDir: string): string {
  return agentStatePaths(stateDir).journal;
}

/** Reads the journal; a missing one is empty, an unreadable one stops the agent rather than guess. */
export async function readJournal(stateDir: string): Promise<Journal> {
  const path = journalPath(stateDir);
  const journal = await readJsonFile(path, JournalSchema, (detail) =>
    detail.startsWith('cannot read')
      ? new JournalCorruptError(`journal ${path}: ${detail}`)
      : new JournalCorruptError(`journal ${path} is ${detail === 'not valid JSON' ? 'not valid JSON' : `invalid (${detail})`}; move it aside to start over`),
  );
  return journal ?? EMPTY_JOURNAL;
}

export async function writeJournal(stateDir: string, journal: Journal): Promise<void> {
  await writeFileAtomic(journalPath(stateDir), `${JSON.stringify(journal, null, 2)}\n`, 0o600);
}

export function createJournalStore(stateDir: string): JournalStore {
  return { read: () => readJournal(stateDir), write: (journal) => writeJournal(stateDir, journal) };
}
