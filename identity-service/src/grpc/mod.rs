//! The `identity.v1.IdentityService` implementation.
//!
//! Handlers are thin: check the caller's scope, check and convert the request, hash a
//! password if there is one, run one operation from [`crate::ops`] in one transaction,
//! tell the cursor cache about writes, and record the SCIM span attributes learnt on
//! the way (`scim.filter_shape` without values, `scim.result_count`) on the call's
//! `grpc.server` span, which opens with `scim.resource_type` and `scim.operation`
//! ([`scim_operation`]). The tenant always comes from
//! the verified token.

mod groups;
mod users;

use std::sync::Arc;

use scim_authn::scopes;
use scim_proto::identity::v1 as pb;
use scim_proto::identity::v1::identity_service_server::IdentityService;
use tonic::{Request, Response, Status};

use crate::db::Database;
use crate::paging::CursorCache;

/// The gRPC service over a [`Database`].
#[derive(Debug, Clone)]
pub struct IdentityApi {
    db: Database,
    cursors: Arc<CursorCache>,
    max_page_size: i64,
}

impl IdentityApi {
    /// A service over `db` that caps list pages at `max_page_size`.
    pub fn new(db: Database, max_page_size: i64) -> Self {
        IdentityApi {
            db,
            cursors: Arc::default(),
            max_page_size: max_page_size.max(1),
        }
    }
}

/// The caller's tenant, if the verified token grants `scope`.
fn authorize<T>(req: &Request<T>, scope: &str) -> Result<String, Status> {
    let caller = scim_authn::grpc::caller(req)?;
    caller.require(scope)?;
    Ok(caller.tenant.clone())
}

/// The tenant of a caller allowed to read.
fn reader<T>(req: &Request<T>) -> Result<String, Status> {
    authorize(req, scopes::SCIM_READ)
}

/// The tenant of a caller allowed to write.
fn writer<T>(req: &Request<T>) -> Result<String, Status> {
    authorize(req, scopes::SCIM_WRITE)
}

/// The SCIM resource type and operation an `identity.v1` method serves, named on the
/// call's `grpc.server` span when it opens
/// (`scim_telemetry::grpc::server_span_naming`).
pub fn scim_operation(method: &str) -> Option<(&'static str, &'static str)> {
    Some(match method {
        "CreateUser" => ("User", "create"),
        "GetUser" => ("User", "get"),
        "ListUsers" => ("User", "list"),
        "ReplaceUser" => ("User", "replace"),
        "UpdateUser" => ("User", "update"),
        "PatchUser" => ("User", "patch"),
        "DeleteUser" => ("User", "delete"),
        "CreateGroup" => ("Group", "create"),
        "GetGroup" => ("Group", "get"),
        "ListGroups" => ("Group", "list"),
        "ReplaceGroup" => ("Group", "replace"),
        "UpdateGroup" => ("Group", "update"),
        "DeleteGroup" => ("Group", "delete"),
        "ModifyMembers" => ("Group", "modify_members"),
        _ => return None,
    })
}

/// INVALID_ARGUMENT for a missing required field.
fn required(field: &str) -> Status {
    Status::invalid_argument(format!("{field} is required"))
}

#[tonic::async_trait]
impl IdentityService for IdentityApi {
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        users::create(self, request).await.map(Response::new)
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        users::get(self, request).await.map(Response::new)
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        users::list(self, request).await.map(Response::new)
    }

    async fn replace_user(
        &self,
        request: Request<pb::ReplaceUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        users::replace(self, request).await.map(Response::new)
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        users::update(self, request).await.map(Response::new)
    }

    async fn patch_user(
        &self,
        request: Request<pb::PatchUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        users::patch(self, request).await.map(Response::new)
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<pb::DeleteUserResponse>, Status> {
        users::delete(self, request).await.map(Response::new)
    }

    async fn create_group(
        &self,
        request: Request<pb::CreateGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        groups::create(self, request).await.map(Response::new)
    }

    async fn get_group(
        &self,
        request: Request<pb::GetGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        groups::get(self, request).await.map(Response::new)
    }

    async fn list_groups(
        &self,
        request: Request<pb::ListGroupsRequest>,
    ) -> Result<Response<pb::ListGroupsResponse>, Status> {
        groups::list(self, request).await.map(Response::new)
    }

    async fn replace_group(
        &self,
        request: Request<pb::ReplaceGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        groups::replace(self, request).await.map(Response::new)
    }

    async fn update_group(
        &self,
        request: Request<pb::UpdateGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        groups::update(self, request).await.map(Response::new)
    }

    async fn delete_group(
        &self,
        request: Request<pb::DeleteGroupRequest>,
    ) -> Result<Response<pb::DeleteGroupResponse>, Status> {
        groups::delete(self, request).await.map(Response::new)
    }

    async fn modify_members(
        &self,
        request: Request<pb::ModifyMembersRequest>,
    ) -> Result<Response<pb::ModifyMembersResponse>, Status> {
        groups::modify_members(self, request)
            .await
            .map(Response::new)
    }
}
