import { Injectable, OnModuleInit, SetMetadata } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { EntityManager } from 'typeorm';

const IN_TRANSACTION_EVENT = Symbol('IN_TRANSACTION_EVENT');

type InTransactionHandler = (event: unknown, manager: EntityManager) => Promise<void>;

/**
 * Marks a provider method that runs inside the transaction that raises `eventName`, before its
 * commit: the method gets the event and the transaction's EntityManager, and if it throws, the
 * whole transaction rolls back. Today one event uses it: the steps' retention asks
 * (`STEPS_EXPIRING`) which expiring steps another module still needs. A step's terminal transition
 * does not: its outbox is an explicit port (`steps/step-completion-outbox.ts`). Everything that
 * only reacts to a change uses `@OnEvent`, after the commit.
 */
export const OnEventInTransaction = (eventName: string): MethodDecorator =>
  SetMetadata(IN_TRANSACTION_EVENT, eventName);

/**
 * The in-transaction bus: the service that owns a change calls `publish` inside its transaction;
 * every `@OnEventInTransaction` method for that event runs there, in registration order.
 */
@Injectable()
export class TransactionalEvents implements OnModuleInit {
  private readonly handlers = new Map<string, InTransactionHandler[]>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  onModuleInit(): void {
    for (const { instance } of this.discovery.getProviders()) {
      if (!instance || typeof instance !== 'object') continue;
      const prototype = Object.getPrototypeOf(instance) as object;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const method = (instance as Record<string, unknown>)[name] as InTransactionHandler;
        const eventName = this.reflector.get<string | undefined>(IN_TRANSACTION_EVENT, method);
        if (eventName === undefined) continue;
        const existing = this.handlers.get(eventName) ?? [];
        this.handlers.set(eventName, [...existing, method.bind(instance)]);
      }
    }
  }

  async publish(eventName: string, event: unknown, manager: EntityManager): Promise<void> {
    for (const handler of this.handlers.get(eventName) ?? []) await handler(event, manager);
  }
}
