/** What routes may call: services only (CONVENTIONS.md: routes are thin). */
import type { Database } from '../store/database.js';
import type { AuthService } from '../services/auth.service.js';
import type { ConfigService } from '../services/config.service.js';
import type { ConversationsService } from '../services/conversations.service.js';
import type { DiagnosticsService } from '../services/diagnostics.service.js';
import type { DirectoryService } from '../services/directory.service.js';
import type { QuarantineService } from '../services/quarantine.service.js';
import type { RetentionService } from '../services/retention.service.js';
import type { RoutingService } from '../services/routing.service.js';
import type { UsersService } from '../services/users.service.js';
import type { Metrics } from './metrics.js';
import type { WebSocketHub } from './websocket.js';

export interface RouteDeps {
  database: Database;
  auth: AuthService;
  users: UsersService;
  config: ConfigService;
  directory: DirectoryService;
  conversations: ConversationsService;
  diagnostics: DiagnosticsService;
  quarantine: QuarantineService;
  retention: RetentionService;
  routing: RoutingService;
  metrics: Metrics;
  hub: WebSocketHub;
  nodeId: string;
  version: string;
  publicUrl: string;
}
