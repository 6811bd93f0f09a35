// Example parameters for main.bicep: every parameter, with the value a small production
// deployment would use. Secrets are never written here: they come from the environment of
// the shell running infra/deploy.sh (readEnvironmentVariable) or live in Key Vault.
using './main.bicep'

// ---------------------------------------------------------------- general
param namePrefix = 'contoso-conn'
param location = 'westeurope'
// Fixed names: [apim.backend] url in the connector configuration names the web app.
param webAppName = 'contoso-entra-connector'
param apimName = 'contoso-entra-connector-gw'
param tags = {
  workload: 'entra-api-connector'
  environment: 'production'
}

// ---------------------------------------------------------------- Key Vault
param keyVaultName = 'contoso-conn-kv'
param keyVaultResourceGroupName = 'rg-contoso-connector'
param certificateName = 'connector-client-cert'
param basicPasswordSecretName = 'connector-basic-password'
param inviteKeySecretName = 'connector-invite-key'

// ---------------------------------------------------------------- web app
param appServicePlanSku = 'B1'
param appServicePlanCapacity = 1
param pythonVersion = '3.12'
param connectorConfigPath = 'instance/connector.toml'
param gunicornWorkers = 2

// ---------------------------------------------------------------- store
param storeKind = 'sqlite'
param sqliteUrl = 'sqlite:////home/data/connector.db'
param postgresAdministratorLogin = 'connectoradmin'
// Only read when storeKind is 'postgresql'; export it before deploying.
param postgresAdministratorPassword = readEnvironmentVariable('CONNECTOR_PG_ADMIN_PASSWORD', '')
param storeUrlSecretName = 'connector-store-url'

// ---------------------------------------------------------------- API Management
param deployApiManagement = true
param apimSkuName = 'Consumption'
param apimPublisherEmail = 'identity-team@contoso.com'
param apimPublisherName = 'Contoso identity team'
// One entry per non-secret named value in build/apim-policies/named-values.json.
param apimNamedValues = {}
param apimBackendCertificateName = 'connector-client-cert'
param apimBackendCertificateId = 'connector-backend-client'

// ---------------------------------------------------------------- monitoring
param alertEmails = [
  'identity-team@contoso.com'
]
param logRetentionInDays = 30
