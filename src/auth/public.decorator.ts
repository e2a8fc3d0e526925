import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'stephook:isPublic';

/** Opens a route to callers without the API key (health and readiness probes only). */
export const Public = () => SetMetadata(IS_PUBLIC, true);
