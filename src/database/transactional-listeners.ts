import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

export type TransactionalListener<T> = (event: T, manager: EntityManager) => Promise<void>;

/**
 * Listeners that must write in the same transaction as the change that raised an event (a
 * transactional outbox). A module registers one for an event name; the service that owns the change
 * calls `publish` inside its transaction, before the commit. If a listener throws, the whole
 * transaction rolls back. The usual after-commit event still goes through EventEmitter2: this is
 * only for writes that must commit or fail together with the change.
 */
@Injectable()
export class TransactionalListeners {
  private readonly listeners = new Map<string, TransactionalListener<never>[]>();

  listen<T>(eventName: string, listener: TransactionalListener<T>): void {
    const existing = this.listeners.get(eventName) ?? [];
    this.listeners.set(eventName, [...existing, listener]);
  }

  async publish<T>(eventName: string, event: T, manager: EntityManager): Promise<void> {
    for (const listener of this.listeners.get(eventName) ?? []) {
      await (listener as TransactionalListener<T>)(event, manager);
    }
  }
}
