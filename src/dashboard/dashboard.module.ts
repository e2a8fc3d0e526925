import { Module } from '@nestjs/common';
import { DashboardController } from './dashboard.controller.js';

/** The delivery dashboard page (GET /dashboard); it reads and acts through the public API only. */
@Module({ controllers: [DashboardController] })
export class DashboardModule {}
