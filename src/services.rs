//! The object graph: every service built once, handed exactly the dependencies it uses (which
//! it keeps private). `Application::build` and the CLI commands make one of these; the HTTP
//! layer holds it in its `AppState`.
use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::password::Hasher;
use crate::crypto::seal::Sealer;
use crate::metrics::Metrics;
use crate::service::apps::AppService;
use crate::service::auth::AuthService;
use crate::service::auth::passwords::PasswordService;
use crate::service::authn::{self, Authenticator};
use crate::service::cache::AccessCache;
use crate::service::change::broadcast::Broadcaster;
use crate::service::change::{Changes, CommitHook};
use crate::service::compat::edd::EddService;
use crate::service::compat::{cl::ClService, daarion::DaarionService, dev::DevHeaders, numbers::UserNumbers};
use crate::service::consent::domains::EmailDomainService;
use crate::service::consent::invitations::{self, InvitationService};
use crate::service::consent::verification::EmailVerification;
use crate::service::mfa::MfaService;
use crate::service::oidc::external::ExternalTokens;
use crate::service::oidc::http::{Discovery, Http};
use crate::service::oidc::provision::Provisioner;
use crate::service::oidc::{Directory, OidcService};
use crate::service::openid::{self, OpenIdProvider};
use crate::service::{activity::ActivityService, clients::ClientService, domains::DomainService};
use crate::service::{orgs::OrgService, providers::ProviderService, seeding::SeedService};
use crate::service::{teams::TeamService, users::UserService, webhooks::WebhookService};
use crate::store::Db;
use crate::token::verify::LEEWAY_SECONDS;
use crate::token::{Issuer, KeyStore, Verifier};
use anyhow::Context;
use chrono::Duration;
use std::sync::Arc;

pub struct Services {
    pub config: Arc<Config>,
    pub keys: Arc<KeyStore>,
    /// Seals the secrets the services store (signing keys, providers' client secrets).
    pub sealer: Arc<Sealer>,
    pub authn: Arc<Authenticator>,
    pub auth: Arc<AuthService>,
    pub passwords: Arc<PasswordService>,
    pub verification: Arc<EmailVerification>,
    /// Second factors (`service::mfa`).
    pub mfa: Arc<MfaService>,
    /// guildhall as an OpenID Provider (`/oauth2/*`, the hosted pages).
    pub openid: Arc<OpenIdProvider>,
    /// Applications (OAuth clients) of organisations.
    pub apps: Arc<AppService>,
    pub invitations: Arc<InvitationService>,
    pub email_domains: Arc<EmailDomainService>,
    pub teams: Arc<TeamService>,
    pub domains: Arc<DomainService>,
    pub orgs: Arc<OrgService>,
    pub users: Arc<UserService>,
    pub clients: Arc<ClientService>,
    pub activity: Arc<ActivityService>,
    pub seeds: Arc<SeedService>,
    pub providers: Arc<ProviderService>,
    pub oidc: Arc<OidcService>,
    pub daarion: Arc<DaarionService>,
    pub cl: Arc<ClService>,
    pub edd: Arc<EddService>,
    pub webhooks: Arc<WebhookService>,
    /// What background tasks need besides the services.
    pub db: Db,
    pub cache: Arc<AccessCache>,
    pub changes: Changes,
    pub hasher: Arc<Hasher>,
    /// This application's Prometheus registry.
    pub metrics: Arc<Metrics>,
}

impl Services {
    pub fn build(
        db: Db,
        config: Arc<Config>,
        clock: SharedClock,
        keys: Arc<KeyStore>,
        hasher: Arc<Hasher>,
        sealer: Arc<Sealer>,
    ) -> anyhow::Result<Self> {
        let bounds = crate::service::cache::Bounds {
            contexts: config.limits.cache_max_contexts,
            tokens: config.limits.cache_max_tokens,
        };
        let cache = Arc::new(AccessCache::new(config.limits.cache_max_age, bounds));
        let metrics = Arc::new(Metrics::new(hasher.wait_histogram()));
        let revocation_window = config.access_token_ttl + Duration::seconds(LEEWAY_SECONDS);
        let hooks: Vec<Arc<dyn CommitHook>> = vec![Arc::new(UserNumbers)];
        let changes = Changes::new(
            db.clone(),
            Arc::clone(&clock),
            &config.issuer,
            Broadcaster::new(db.clone(), Arc::clone(&cache), Arc::clone(&metrics)),
            revocation_window,
            hooks,
        );
        let discovery = Arc::new(Discovery::new(Http::new().context("cannot build the HTTP client")?));
        let directory = Arc::new(Directory::new(db.clone(), Arc::clone(&config), Arc::clone(&sealer)));
        let provisioner = Arc::new(Provisioner::new(changes.clone()));
        let external = config.oidc.global.clone().map(|global| {
            let (directory, discovery) = (Arc::clone(&directory), Arc::clone(&discovery));
            ExternalTokens::new(
                global,
                directory,
                discovery,
                Arc::clone(&provisioner),
                Arc::clone(&clock),
            )
        });
        let dev_headers = config.allow_dev_headers && config.environment == crate::config::Environment::Development;
        let authn = Arc::new(Authenticator::new(authn::Parts {
            db: db.clone(),
            clock: Arc::clone(&clock),
            keys: Arc::clone(&keys),
            verifier: Verifier::new(&config.issuer, &config.audience),
            cache: Arc::clone(&cache),
            revocation_window,
            external,
            dev: dev_headers.then(|| DevHeaders::new(db.clone(), changes.clone(), &config.default_org)),
            metrics: Arc::clone(&metrics),
        }));
        let tokens = Arc::new(Issuer::new(
            Arc::clone(&keys),
            &config.issuer,
            &config.audience,
            config.access_token_ttl,
            config.claim_budget,
            Arc::clone(&clock),
        ));
        let mailer = crate::mail::from_config(&config)?;
        let verification = Arc::new(EmailVerification::new(
            db.clone(),
            changes.clone(),
            Arc::clone(&config),
            Arc::clone(&mailer),
        ));
        let mfa = Arc::new(MfaService::new(
            db.clone(),
            changes.clone(),
            Arc::clone(&sealer),
            Arc::clone(&mailer),
            &config,
        ));
        let auth = Arc::new(AuthService::new(crate::service::auth::Parts {
            mfa: Arc::clone(&mfa),
            db: db.clone(),
            changes: changes.clone(),
            authn: Arc::clone(&authn),
            tokens: Arc::clone(&tokens),
            hasher: Arc::clone(&hasher),
            config: Arc::clone(&config),
            verification: Arc::clone(&verification),
            metrics: Arc::clone(&metrics),
        }));
        let orgs = Arc::new(OrgService::new(db.clone(), changes.clone(), Arc::clone(&config)));
        let users = Arc::new(UserService::new(
            db.clone(),
            changes.clone(),
            Arc::clone(&hasher),
            Arc::clone(&verification),
        ));
        let invitations = Arc::new(InvitationService::new(invitations::Parts {
            db: db.clone(),
            changes: changes.clone(),
            orgs: Arc::clone(&orgs),
            authn: Arc::clone(&authn),
            auth: Arc::clone(&auth),
            hasher: Arc::clone(&hasher),
            config: Arc::clone(&config),
            mailer: Arc::clone(&mailer),
        }));
        let dns = crate::dns::Dns::new(config.consent.dns_resolver);
        let clients = Arc::new(ClientService::new(
            db.clone(),
            changes.clone(),
            Arc::clone(&orgs),
            Arc::clone(&tokens),
        ));
        let oidc = Arc::new(OidcService::new(
            db.clone(),
            Arc::clone(&clock),
            config.oidc.clone(),
            config.environment == crate::config::Environment::Development,
            directory,
            discovery,
            provisioner,
        ));
        let openid = Arc::new(OpenIdProvider::new(openid::Parts {
            db: db.clone(),
            changes: changes.clone(),
            authn: Arc::clone(&authn),
            auth: Arc::clone(&auth),
            accounts: Arc::clone(&clients),
            oidc: Arc::clone(&oidc),
            keys: Arc::clone(&keys),
            tokens: Arc::clone(&tokens),
            config: Arc::clone(&config),
        })?);
        Ok(Self {
            openid,
            apps: Arc::new(AppService::new(
                db.clone(),
                changes.clone(),
                Arc::clone(&orgs),
                Arc::clone(&config),
            )),
            clients,
            oidc,
            verification,
            invitations,
            email_domains: Arc::new(EmailDomainService::new(
                db.clone(),
                changes.clone(),
                Arc::clone(&orgs),
                dns,
            )),
            passwords: Arc::new(PasswordService::new(
                db.clone(),
                changes.clone(),
                Arc::clone(&hasher),
                Arc::clone(&config),
                mailer,
            )),
            teams: Arc::new(TeamService::new(db.clone(), changes.clone(), Arc::clone(&authn))),
            domains: Arc::new(DomainService::new(db.clone(), changes.clone(), Arc::clone(&authn))),
            activity: Arc::new(ActivityService::new(db.clone())),
            seeds: Arc::new(SeedService::new(
                changes.clone(),
                Arc::clone(&hasher),
                config.password_policy,
                Arc::clone(&sealer),
                crate::service::apps::rules(&config),
            )),
            providers: Arc::new(ProviderService::new(
                db.clone(),
                changes.clone(),
                Arc::clone(&orgs),
                Arc::clone(&sealer),
            )),
            daarion: Arc::new(DaarionService::new(
                db.clone(),
                changes.clone(),
                Arc::clone(&authn),
                Arc::clone(&auth),
                Arc::clone(&tokens),
                config.synapse.as_ref(),
            )?),
            edd: Arc::new(EddService::new(db.clone(), Arc::clone(&auth), Arc::clone(&tokens))),
            webhooks: Arc::new(WebhookService::new(
                db.clone(),
                changes.clone(),
                Arc::clone(&orgs),
                Arc::clone(&sealer),
                config.webhooks,
            )),
            cl: Arc::new(ClService::new(
                db.clone(),
                changes.clone(),
                Arc::clone(&authn),
                tokens,
                Arc::clone(&hasher),
                Arc::clone(&users),
            )),
            users,
            orgs,
            auth,
            mfa,
            authn,
            config,
            keys,
            sealer,
            db,
            cache,
            changes,
            hasher,
            metrics,
        })
    }
}
