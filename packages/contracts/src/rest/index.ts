/** The REST API (`/api/v1`) and its OpenAPI document, both read from the router. */
export { ARTIFACTS_PATH, ArtifactRefusal, ArtifactStored } from './artifacts.js';
export { callRest } from './call.js';
export { type RestAnswer, RestError, restError } from './errors.js';
export type { RestRequest } from './input.js';
export { OPENAPI_FILE, OPENAPI_PATH, type OpenApiDocument, openApiDocument, openApiText } from './openapi.js';
export {
  REST_BASE,
  REST_ROUTES,
  type RestMethod,
  type RestOperation,
  type RestRoute,
  restOperations,
} from './routes.js';
