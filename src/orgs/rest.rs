//! The organization routes of the token API: what a token may read about the
//! organizations and groups it acts in.

use super::{server, GroupSummary, Member};
use crate::access::Action;
use crate::error::AppError;
use crate::server::api_error::{ApiError, ApiPath, TokenRefusals};
use crate::server::state::AppState;
use crate::tokens::rest::Caller;
use axum::extract::State;
use axum::Json;

/// Members of an organization the token acts in (any role).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/members", tag = "organizations",
    summary = "List an organization's members",
    description = "For tokens acting as a member of the organization (any role). Technical users of organization and group tokens are marked `technical`.",
    params(("org" = String, Path, description = "The organization's slug")),
    responses((status = 200, description = "Success", body = Vec<Member>), TokenRefusals),
    security(("bearer" = []), ("apiToken" = [])))]
pub async fn org_members(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(org): ApiPath<String>,
) -> Result<Json<Vec<Member>>, ApiError> {
    let org_id = caller.org_reader(&org)?;
    Ok(Json(
        server::list_org_members(&state.db, org_id, false).await?,
    ))
}

/// Groups of an organization the token acts in (any role).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/groups", tag = "organizations",
    summary = "List an organization's groups",
    params(("org" = String, Path, description = "The organization's slug")),
    responses((status = 200, description = "Success", body = Vec<GroupSummary>), TokenRefusals),
    security(("bearer" = []), ("apiToken" = [])))]
pub async fn org_groups(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(org): ApiPath<String>,
) -> Result<Json<Vec<GroupSummary>>, ApiError> {
    let org_id = caller.org_reader(&org)?;
    Ok(Json(server::list_groups(&state.db, org_id).await?))
}

/// Members of a group: for tokens acting in its organization, and for tokens
/// acting in that group.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/groups/{group}/members", tag = "organizations",
    summary = "List a group's members",
    description = "For tokens acting in the group's organization, and for tokens acting in that group.",
    params(("org" = String, Path, description = "The organization's slug"), ("group" = String, Path, description = "The group's slug")),
    responses((status = 200, description = "Success", body = Vec<Member>), TokenRefusals),
    security(("bearer" = []), ("apiToken" = [])))]
pub async fn group_members(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath((org, group)): ApiPath<(String, String)>,
) -> Result<Json<Vec<Member>>, ApiError> {
    let standing = caller.group_standing(&state.db, &org, &group).await?;
    caller.may(Action::ReadGroup(standing))?;
    let group_id = standing
        .and_then(|s| s.group)
        .map(|g| g.group_id)
        .ok_or(AppError::Internal)?;
    Ok(Json(server::list_group_members(&state.db, group_id).await?))
}
