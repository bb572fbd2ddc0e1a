//! `ledgerdock clients …`: create, list, show, grant, revoke, rotate-secret, delete. Against the
//! dev stack's local registry by default, or Cognito + the stack's table with `--aws`.

use anyhow::Context;
use clap::{Args, Subcommand};
use ledgerdock_shared::domain::CompanyId;
use ledgerdock_shared::domain::Scope;
use ledgerdock_shared::edge::config::ENV_TABLE;
use ledgerdock_shared::store::clients::DEFAULT_RATE_LIMIT;

use crate::clients::cognito::CognitoClients;
use crate::clients::{ClientAdmin, ClientRegistry, ClientView, Credentials, Directory};
use crate::dev::{local_sdk, DEFAULT_TABLE};

#[derive(Args)]
pub struct ClientsArgs {
    #[command(subcommand)]
    pub command: ClientsCommand,
    #[command(flatten)]
    pub target: Target,
}

/// Where the clients live.
#[derive(Args)]
pub struct Target {
    /// Manage Cognito app clients in AWS (default credential chain) instead of the local stack.
    #[arg(long, global = true)]
    pub aws: bool,
    /// AWS: a deployed stack whose outputs name the user pool and the table.
    #[arg(long, global = true, env = "LEDGERDOCK_STACK")]
    pub stack_name: Option<String>,
    /// AWS: the Cognito user pool (the stack's UserPoolId output).
    #[arg(long, global = true)]
    pub user_pool_id: Option<String>,
    /// The table (in AWS: the stack's TableName output).
    #[arg(long, global = true, env = ENV_TABLE)]
    pub table: Option<String>,
    /// Local: the dev stack's DynamoDB endpoint.
    #[arg(long, global = true, default_value = "http://127.0.0.1:3002")]
    pub dynamodb_endpoint: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum ClientsCommand {
    /// Onboard an integrating system; prints its client id and secret (the secret only now).
    Create {
        /// What the integrating system is (shown in listings, and as the Cognito app client's name).
        #[arg(long)]
        name: String,
        /// A company it may act for; repeat for several.
        #[arg(long = "company", required = true)]
        companies: Vec<CompanyId>,
        /// Comma-separated: invoices.read,invoices.write,imports.read,imports.write,webhooks.manage
        #[arg(long, value_parser = parse_scopes, required = true)]
        scopes: ScopeList,
        /// Requests per minute across all its calls.
        #[arg(long, default_value_t = DEFAULT_RATE_LIMIT)]
        rate_limit: u32,
    },
    /// Every client with its grants.
    List,
    /// One client: grants, rate limit, and requests per day by route (last 7 days).
    Show { client_id: String },
    /// Let a client act for another company (or change its scopes there).
    Grant {
        client_id: String,
        #[arg(long)]
        company: CompanyId,
        /// Default: the scopes the client already holds.
        #[arg(long, value_parser = parse_scopes)]
        scopes: Option<ScopeList>,
    },
    /// Take a company away from a client, and disable its webhook subscriptions there;
    /// effective at once locally, within the grant cache time (≤ 60 s) in AWS.
    Revoke {
        client_id: String,
        #[arg(long)]
        company: CompanyId,
    },
    /// Issue a new secret; the old one stops working.
    RotateSecret { client_id: String },
    /// Delete the client, its grants and its webhook subscriptions; its unexpired tokens stop
    /// working too.
    Delete { client_id: String },
}

#[derive(Clone, Debug)]
pub struct ScopeList(pub Vec<Scope>);

fn parse_scopes(raw: &str) -> Result<ScopeList, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            Scope::parse(s).ok_or_else(|| {
                let names: Vec<_> = Scope::ALL.iter().map(Scope::name).collect();
                format!("{s:?} is not a scope; use {}", names.join(", "))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|scopes| {
            if scopes.is_empty() {
                Err("name at least one scope".into())
            } else {
                Ok(ScopeList(scopes))
            }
        })
}

async fn admin(target: &Target) -> anyhow::Result<ClientAdmin> {
    if !target.aws {
        let table = target.table.clone().unwrap_or_else(|| DEFAULT_TABLE.into());
        // The S3 endpoint is never used by client administration.
        let (dynamodb, _) = local_sdk(&target.dynamodb_endpoint, "http://127.0.0.1:3001");
        let registry = ClientRegistry::new(dynamodb.clone(), &table);
        return Ok(ClientAdmin::new(
            Directory::Local(registry),
            dynamodb,
            &table,
        ));
    }
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let (mut pool, mut table) = (target.user_pool_id.clone(), target.table.clone());
    if let Some(stack) = &target.stack_name {
        let outputs = stack_outputs(&sdk, stack).await?;
        pool = pool.or_else(|| outputs.get("UserPoolId").cloned());
        table = table.or_else(|| outputs.get("TableName").cloned());
    }
    let pool = pool.context("--aws needs --user-pool-id or --stack-name")?;
    let table = table.context("--aws needs --table or --stack-name")?;
    let cognito = CognitoClients::new(aws_sdk_cognitoidentityprovider::Client::new(&sdk), pool);
    Ok(ClientAdmin::new(
        Directory::Cognito(cognito),
        aws_sdk_dynamodb::Client::new(&sdk),
        &table,
    ))
}

async fn stack_outputs(
    sdk: &aws_config::SdkConfig,
    stack: &str,
) -> anyhow::Result<std::collections::HashMap<String, String>> {
    let out = aws_sdk_cloudformation::Client::new(sdk)
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", aws_sdk_cloudformation::error::DisplayErrorContext(e)))
        .with_context(|| format!("reading the outputs of stack {stack}"))?;
    Ok(out
        .stacks()
        .first()
        .map(|s| {
            s.outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
                .collect()
        })
        .unwrap_or_default())
}

fn print_client(view: &ClientView) {
    println!("{}  {}", view.client_id, view.name);
    println!("  scopes      {}", view.scopes.join(" "));
    println!("  rate limit  {} requests/minute", view.rate_limit);
    println!("  created     {}", view.created_at);
    if view.grants.is_empty() {
        println!("  companies   (none: every request is refused)");
    }
    for grant in &view.grants {
        println!(
            "  company     {}  {}",
            grant.company_id,
            grant.scopes.join(" ")
        );
    }
    if let Some(usage) = &view.usage {
        if usage.is_empty() {
            println!(
                "  usage       no requests in the last {} days",
                crate::clients::USAGE_DAYS
            );
        }
        for (day, routes) in usage {
            let total: u64 = routes.values().sum();
            let detail: Vec<String> = routes.iter().map(|(r, n)| format!("{r} {n}")).collect();
            println!("  usage {day}  {total} requests: {}", detail.join(", "));
        }
    }
}

fn print_credentials(credentials: &Credentials) {
    println!("  clientId     {}", credentials.client_id);
    println!("  clientSecret {}", credentials.client_secret);
    println!("  (the secret is shown only now: hand it over and store it safely)");
    if let Some(old) = &credentials.replaced_client_id {
        println!(
            "  Cognito could not rotate the secret in place, so client {old} was replaced by {} with the same grants; {old} no longer works.",
            credentials.client_id
        );
    }
}

/// A client as `--json` prints it, with how many of its webhook subscriptions a grant change
/// disabled.
fn with_disabled(view: &ClientView, disabled: usize) -> anyhow::Result<serde_json::Value> {
    let mut shown = serde_json::to_value(view)?;
    shown["webhookSubscriptionsDisabled"] = serde_json::json!(disabled);
    Ok(shown)
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub async fn run(args: ClientsArgs) -> anyhow::Result<()> {
    let admin = admin(&args.target).await?;
    let json = args.target.json;
    match args.command {
        ClientsCommand::Create {
            name,
            companies,
            scopes,
            rate_limit,
        } => {
            let (view, credentials) = admin
                .create(&name, &companies, &scopes.0, rate_limit)
                .await?;
            if json {
                return print_json(
                    &serde_json::json!({"client": view, "credentials": credentials}),
                );
            }
            println!("Created client {:?}", view.name);
            print_credentials(&credentials);
            print_client(&view);
        }
        ClientsCommand::List => {
            let clients = admin.list().await?;
            if json {
                return print_json(&clients);
            }
            if clients.is_empty() {
                println!(
                    "no clients yet: ledgerdock clients create --name … --company … --scopes …"
                );
            }
            clients.iter().for_each(print_client);
        }
        ClientsCommand::Show { client_id } => {
            let view = admin.show(&client_id).await?;
            if json {
                return print_json(&view);
            }
            print_client(&view);
        }
        ClientsCommand::Grant {
            client_id,
            company,
            scopes,
        } => {
            let (view, disabled) = admin
                .grant(&client_id, company, scopes.as_ref().map(|s| s.0.as_slice()))
                .await?;
            if json {
                return print_json(&with_disabled(&view, disabled)?);
            }
            println!("Granted company {company}");
            if disabled > 0 {
                println!(
                    "Disabled {disabled} webhook subscription(s) for it whose events the new scopes do not read"
                );
            }
            print_client(&view);
        }
        ClientsCommand::Revoke { client_id, company } => {
            let (view, disabled) = admin.revoke(&client_id, company).await?;
            if json {
                return print_json(&with_disabled(&view, disabled)?);
            }
            println!(
                "Revoked company {company}; disabled {disabled} webhook subscription(s) of the client for it"
            );
            print_client(&view);
        }
        ClientsCommand::RotateSecret { client_id } => {
            let credentials = admin.rotate_secret(&client_id).await?;
            if json {
                return print_json(&credentials);
            }
            println!("New secret for {client_id}");
            print_credentials(&credentials);
        }
        ClientsCommand::Delete { client_id } => {
            let subscriptions = admin.delete(&client_id).await?;
            if json {
                return print_json(&serde_json::json!({
                    "clientId": client_id,
                    "deleted": true,
                    "webhookSubscriptionsDeleted": subscriptions,
                }));
            }
            println!(
                "Deleted client {client_id}, its grants and {subscriptions} webhook subscription(s)"
            );
        }
    }
    Ok(())
}
