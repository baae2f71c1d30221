//! guildhall as an OpenID Provider: applications (clients) of organisations, browser sessions
//! for single sign-on, authorization requests in progress, authorization codes, remembered
//! consents, device authorizations and spent client assertions (`private_key_jwt`, single use); sessions learn which client and browser session they
//! belong to and how their user authenticated; organisations may show a logo on their pages.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Id,
    LogoUrl,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    ClientId,
    BrowserSessionId,
    AuthTime,
    Amr,
    Scope,
    Audience,
    AccessTtl,
    RefreshTtl,
}

#[derive(DeriveIden)]
enum OauthClients {
    Table,
    Id,
    OrgId,
    ClientId,
    Name,
    Kind,
    SecretHash,
    AuthMethod,
    Jwks,
    RedirectUris,
    PostLogoutRedirectUris,
    GrantTypes,
    Scopes,
    Resources,
    FirstParty,
    MultiOrg,
    AccessTokenTtl,
    RefreshTokenTtl,
    BackchannelLogoutUri,
    IdTokenAlg,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum BrowserSessions {
    Table,
    Id,
    UserId,
    TokenHash,
    AuthTime,
    Amr,
    Acr,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AuthorizationRequests {
    Table,
    HandleHash,
    ClientId,
    Params,
    OrgId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum AuthorizationCodes {
    Table,
    CodeHash,
    ClientId,
    Grant,
    SessionId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Consents {
    Table,
    UserId,
    ClientId,
    Scopes,
    GrantedAt,
}

#[derive(DeriveIden)]
enum DeviceAuthorizations {
    Table,
    DeviceCodeHash,
    UserCode,
    ClientId,
    Scopes,
    Status,
    Grant,
    CreatedAt,
    ExpiresAt,
    Interval,
    LastPolledAt,
}

#[derive(DeriveIden)]
enum ClientAssertions {
    Table,
    JtiHash,
    ExpiresAt,
}

fn cascade(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Organisations::Table)
                    .add_column(string_null(Organisations::LogoUrl))
                    .to_owned(),
            )
            .await?;
        for column in [
            ColumnDef::new(Sessions::ClientId).string().null().to_owned(),
            ColumnDef::new(Sessions::BrowserSessionId).uuid().null().to_owned(),
            ColumnDef::new(Sessions::AuthTime)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(Sessions::Amr).string().null().to_owned(),
            ColumnDef::new(Sessions::Scope).text().null().to_owned(),
            ColumnDef::new(Sessions::Audience).string().null().to_owned(),
            ColumnDef::new(Sessions::AccessTtl).integer().null().to_owned(),
            ColumnDef::new(Sessions::RefreshTtl).integer().null().to_owned(),
        ] {
            let mut column = column;
            manager
                .alter_table(Table::alter().table(Sessions::Table).add_column(&mut column).to_owned())
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(OauthClients::Table)
                    .col(pk_uuid(OauthClients::Id))
                    .col(uuid(OauthClients::OrgId))
                    .col(string_uniq(OauthClients::ClientId))
                    .col(string(OauthClients::Name))
                    .col(string(OauthClients::Kind))
                    .col(string_null(OauthClients::SecretHash))
                    .col(string(OauthClients::AuthMethod))
                    .col(text_null(OauthClients::Jwks))
                    .col(text(OauthClients::RedirectUris))
                    .col(text(OauthClients::PostLogoutRedirectUris))
                    .col(text(OauthClients::GrantTypes))
                    .col(text(OauthClients::Scopes))
                    .col(text(OauthClients::Resources))
                    .col(boolean(OauthClients::FirstParty))
                    .col(boolean(OauthClients::MultiOrg))
                    .col(integer_null(OauthClients::AccessTokenTtl))
                    .col(integer_null(OauthClients::RefreshTokenTtl))
                    .col(string_null(OauthClients::BackchannelLogoutUri))
                    .col(string_null(OauthClients::IdTokenAlg))
                    .col(boolean(OauthClients::Active))
                    .col(timestamp_with_time_zone(OauthClients::CreatedAt))
                    .col(timestamp_with_time_zone(OauthClients::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "fk_oauth_clients_org",
                        (OauthClients::Table, OauthClients::OrgId),
                        (Organisations::Table, Organisations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BrowserSessions::Table)
                    .col(pk_uuid(BrowserSessions::Id))
                    .col(uuid(BrowserSessions::UserId))
                    .col(string_uniq(BrowserSessions::TokenHash))
                    .col(timestamp_with_time_zone(BrowserSessions::AuthTime))
                    .col(string(BrowserSessions::Amr))
                    .col(string(BrowserSessions::Acr))
                    .col(timestamp_with_time_zone(BrowserSessions::CreatedAt))
                    .col(timestamp_with_time_zone(BrowserSessions::LastSeenAt))
                    .col(timestamp_with_time_zone(BrowserSessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(BrowserSessions::RevokedAt))
                    .foreign_key(&mut cascade(
                        "fk_browser_sessions_user",
                        (BrowserSessions::Table, BrowserSessions::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuthorizationRequests::Table)
                    .col(string(AuthorizationRequests::HandleHash).primary_key())
                    .col(string(AuthorizationRequests::ClientId))
                    .col(text(AuthorizationRequests::Params))
                    .col(uuid_null(AuthorizationRequests::OrgId))
                    .col(timestamp_with_time_zone(AuthorizationRequests::CreatedAt))
                    .col(timestamp_with_time_zone(AuthorizationRequests::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuthorizationCodes::Table)
                    .col(string(AuthorizationCodes::CodeHash).primary_key())
                    .col(string(AuthorizationCodes::ClientId))
                    .col(text(AuthorizationCodes::Grant))
                    .col(uuid_null(AuthorizationCodes::SessionId))
                    .col(timestamp_with_time_zone(AuthorizationCodes::CreatedAt))
                    .col(timestamp_with_time_zone(AuthorizationCodes::ExpiresAt))
                    .col(timestamp_with_time_zone_null(AuthorizationCodes::UsedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Consents::Table)
                    .col(uuid(Consents::UserId))
                    .col(string(Consents::ClientId))
                    .col(text(Consents::Scopes))
                    .col(timestamp_with_time_zone(Consents::GrantedAt))
                    .primary_key(Index::create().col(Consents::UserId).col(Consents::ClientId))
                    .foreign_key(&mut cascade(
                        "fk_consents_user",
                        (Consents::Table, Consents::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DeviceAuthorizations::Table)
                    .col(string(DeviceAuthorizations::DeviceCodeHash).primary_key())
                    .col(string_uniq(DeviceAuthorizations::UserCode))
                    .col(string(DeviceAuthorizations::ClientId))
                    .col(text(DeviceAuthorizations::Scopes))
                    .col(string(DeviceAuthorizations::Status))
                    .col(text_null(DeviceAuthorizations::Grant))
                    .col(timestamp_with_time_zone(DeviceAuthorizations::CreatedAt))
                    .col(timestamp_with_time_zone(DeviceAuthorizations::ExpiresAt))
                    .col(integer(DeviceAuthorizations::Interval))
                    .col(timestamp_with_time_zone_null(DeviceAuthorizations::LastPolledAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ClientAssertions::Table)
                    .col(string(ClientAssertions::JtiHash).primary_key())
                    .col(timestamp_with_time_zone(ClientAssertions::ExpiresAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ClientAssertions::Table.into_iden(),
            DeviceAuthorizations::Table.into_iden(),
            Consents::Table.into_iden(),
            AuthorizationCodes::Table.into_iden(),
            AuthorizationRequests::Table.into_iden(),
            BrowserSessions::Table.into_iden(),
            OauthClients::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        for column in [
            Sessions::RefreshTtl.into_iden(),
            Sessions::AccessTtl.into_iden(),
            Sessions::Audience.into_iden(),
            Sessions::Scope.into_iden(),
            Sessions::Amr.into_iden(),
            Sessions::AuthTime.into_iden(),
            Sessions::BrowserSessionId.into_iden(),
            Sessions::ClientId.into_iden(),
        ] {
            manager
                .alter_table(Table::alter().table(Sessions::Table).drop_column(column).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Organisations::Table)
                    .drop_column(Organisations::LogoUrl)
                    .to_owned(),
            )
            .await
    }
}
