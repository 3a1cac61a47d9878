//! `GET /tenants`: which tenant a request acts for and which its key may act for, what the
//! explorer's tenant picker offers.

use axum::{Extension, Json};
use serde::Serialize;
use traceflow_access::Grant;
use traceflow_http::ErrorBody;

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TenantsAnswer {
    /// The tenant this request acts for: `X-Scope-OrgID`'s, else the key's first.
    tenant: String,
    /// Every tenant the key may act for, in the keys file's order.
    tenants: Vec<String>,
}

/// The request's tenant and its key's tenants; `default` alone where no keys are configured.
#[utoipa::path(get, path = "/tenants", tag = "query", responses(
    (status = 200, description = "The tenants", body = TenantsAnswer),
    (status = 401, description = "Missing or invalid API key (when keys are configured)", body = ErrorBody),
    (status = 403, description = "A key without the query scope, or naming a tenant it may not act for", body = ErrorBody),
))]
pub(crate) async fn tenants(grant: Option<Extension<Grant>>) -> Json<TenantsAnswer> {
    // No grant: the service checks no keys.
    let grant = grant.map_or_else(Grant::open, |Extension(grant)| grant);
    Json(TenantsAnswer {
        tenant: grant.tenant.to_string(),
        tenants: grant.tenants.iter().map(ToString::to_string).collect(),
    })
}
