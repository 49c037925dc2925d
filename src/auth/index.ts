export { ACR, ACR_VALUES, acrRank, requestedAcr, requiredAcr, satisfiesAcr } from './assurance.ts';
export { createEnrolmentService } from './enrolment-service.ts';
export type { EnrolmentService } from './enrolment-service.ts';
export { createAuthModule } from './auth-module.ts';
export type { AuthModule } from './auth-module.ts';
