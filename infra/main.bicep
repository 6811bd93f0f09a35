// Deploys the Entra API connector: Linux web app (gunicorn), API Management in front of it
// with the rendered policy, Key Vault access for both identities, monitoring, the
// certificate-expiry alert and, for the PostgreSQL store, a Flexible Server.
// Before deploying: render the policies (`python -m app policies render --out
// build/apim-policies`; infra/deploy.sh does it) and create the Key Vault certificate
// (infra/create-certificate.sh): Bicep cannot create Key Vault certificates.
// Walkthrough: docs/deploy.md.

targetScope = 'resourceGroup'

metadata name = 'Entra API connector'
metadata description = 'Web app, API Management gateway, Key Vault references, monitoring and store of the API connector.'

// ---------------------------------------------------------------- general

@description('Required. Short prefix of every resource name (letters, digits, hyphens), e.g. contoso-conn.')
@minLength(3)
@maxLength(20)
param namePrefix string

@description('Optional. Location for all resources.')
param location string = resourceGroup().location

@description('Optional. Globally unique web app name; the app is https://<name>.azurewebsites.net, which [apim.backend] url in the connector configuration must name. Default: derived from namePrefix.')
@maxLength(60)
param webAppName string = '${namePrefix}-app-${uniqueString(resourceGroup().id, namePrefix)}'

@description('Optional. Globally unique API Management name (gateway https://<name>.azure-api.net). Default: derived from namePrefix.')
@maxLength(50)
param apimName string = '${namePrefix}-apim-${uniqueString(resourceGroup().id, namePrefix)}'

@description('Optional. Tags of all resources.')
param tags object = {}

// ---------------------------------------------------------------- Key Vault

@description('Required. Name of the existing Key Vault (RBAC permission model) holding the connector\'s secrets and certificate.')
@minLength(3)
@maxLength(24)
param keyVaultName string

@description('Optional. Resource group of the Key Vault, when it is not this one.')
param keyVaultResourceGroupName string = resourceGroup().name

@description('Optional. Name of the Key Vault certificate Entra presents to the connector (created with infra/create-certificate.sh). Watched by the expiry alert.')
param certificateName string = 'connector-client-cert'

@description('Optional. Name of the Key Vault secret holding the basic-auth password (app setting CONNECTOR_BASIC_PASSWORD). Empty: not set (certificate-only).')
param basicPasswordSecretName string = 'connector-basic-password'

@description('Optional. Name of the Key Vault secret holding the invitation-code hash key (app setting CONNECTOR_INVITE_KEY). Empty: not set (no invitations).')
param inviteKeySecretName string = 'connector-invite-key'

// ---------------------------------------------------------------- web app

@description('Optional. App Service plan SKU (Basic or higher: client certificates).')
@allowed([
  'B1'
  'B2'
  'B3'
  'S1'
  'S2'
  'S3'
  'P0v3'
  'P1v3'
  'P2v3'
  'P3v3'
])
param appServicePlanSku string = 'B1'

@description('Optional. Number of App Service plan instances (1 with the SQLite store).')
@minValue(1)
@maxValue(30)
param appServicePlanCapacity int = 1

@description('Optional. Python version of the Linux runtime.')
@allowed([
  '3.11'
  '3.12'
  '3.13'
])
param pythonVersion string = '3.12'

@description('Optional. Path of the connector\'s TOML configuration inside the deployed package (app setting CONNECTOR_CONFIG).')
param connectorConfigPath string = 'instance/connector.toml'

@description('Optional. gunicorn worker processes per instance (app settings WEB_CONCURRENCY and CONNECTOR_WORKERS).')
@minValue(1)
@maxValue(16)
param gunicornWorkers int = 2

// ---------------------------------------------------------------- store

@description('Optional. Store of invitation codes and idempotency records.')
@allowed([
  'sqlite'
  'postgresql'
])
param storeKind string = 'sqlite'

@description('Optional. SQLite URL used when storeKind is sqlite (/home is the app\'s persistent share).')
param sqliteUrl string = 'sqlite:////home/data/connector.db'

@description('Optional. PostgreSQL administrator login (storeKind postgresql).')
param postgresAdministratorLogin string = 'connectoradmin'

@description('Conditional. PostgreSQL administrator password; required when storeKind is postgresql. Read it from the environment in the .bicepparam.')
@secure()
param postgresAdministratorPassword string = ''

@description('Optional. Name of the Key Vault secret the deployment writes the PostgreSQL URL to (app setting CONNECTOR_STORE_URL).')
param storeUrlSecretName string = 'connector-store-url'

// ---------------------------------------------------------------- API Management

@description('Optional. Deploy API Management in front of the web app. False: Entra calls the web app directly.')
param deployApiManagement bool = true

@description('Optional. API Management tier.')
@allowed([
  'Consumption'
  'Developer'
  'Basic'
  'Standard'
  'Premium'
  'BasicV2'
  'StandardV2'
])
param apimSkuName string = 'Consumption'

@description('Required. Publisher e-mail of the API Management service.')
param apimPublisherEmail string

@description('Required. Publisher (organisation) name of the API Management service.')
param apimPublisherName string

@description('Optional. Values of the policy\'s non-secret named values, by name (see build/apim-policies/named-values.json). Secret ones come from Key Vault.')
param apimNamedValues object = {}

@description('Optional. Key Vault certificate API Management presents to the web app (which requires a client certificate). Defaults to the connector certificate, so the app pins one certificate whichever way a call arrives.')
param apimBackendCertificateName string = certificateName

@description('Optional. ID of the API Management certificate entity made from apimBackendCertificateName; must equal [apim.backend] certificate_id in the connector configuration (the policy\'s authentication-certificate names it).')
param apimBackendCertificateId string = 'connector-backend-client'

// ---------------------------------------------------------------- monitoring

@description('Required. E-mail addresses alerted before the connector\'s certificate expires.')
@minLength(1)
param alertEmails array

@description('Optional. Days Log Analytics keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

// ---------------------------------------------------------------- derived values

var suffix = uniqueString(resourceGroup().id, namePrefix)
var postgresName = '${namePrefix}-pg-${suffix}'
var usesPostgres = storeKind == 'postgresql'

// Rendered by `python -m app policies render --out build/apim-policies` (infra/deploy.sh),
// at compile time: the policy and the list of named values it references come from the same
// render, so they cannot drift apart.
var apiPolicyXml = loadTextContent('../build/apim-policies/api-policy.xml')
var renderedNamedValues = loadJsonContent('../build/apim-policies/named-values.json')
var secretNamedValues = filter(renderedNamedValues, nv => nv.secret)
var plainNamedValues = filter(renderedNamedValues, nv => !nv.secret)

// The names are APIM operation ids: the rendered policy selects the custom authentication
// extension operations (bearer token, validate-jwt) by name, every other operation gets the
// API connector's caller checks. `python -m infra.check` compares the two (policy vs operations).
var apiOperations = [
  {
    name: 'post-federation-signup'
    displayName: 'After federating with an identity provider'
    urlTemplate: '/api/connector/post-federation-signup'
    description: 'API connector step PostFederationSignup.'
  }
  {
    name: 'post-attribute-collection'
    displayName: 'Before creating the user'
    urlTemplate: '/api/connector/post-attribute-collection'
    description: 'API connector step PostAttributeCollection.'
  }
  {
    name: 'pre-token-issuance'
    displayName: 'Before sending the token'
    urlTemplate: '/api/connector/pre-token-issuance'
    description: 'API connector step PreTokenIssuance (B2C).'
  }
  {
    name: 'connector'
    displayName: 'Any step (step in the body)'
    urlTemplate: '/api/connector'
    description: 'B2C API connector; the step comes from the request body.'
  }
  {
    name: 'attribute-collection-start'
    displayName: 'Attribute collection start'
    urlTemplate: '/api/authentication-extension/attribute-collection-start'
    description: 'Custom authentication extension OnAttributeCollectionStart.'
  }
  {
    name: 'attribute-collection-submit'
    displayName: 'Attribute collection submit'
    urlTemplate: '/api/authentication-extension/attribute-collection-submit'
    description: 'Custom authentication extension OnAttributeCollectionSubmit.'
  }
]

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
  scope: resourceGroup(keyVaultResourceGroupName)
}

// Versionless Key Vault references: the app picks up a new secret version within a day, or
// at once on restart.
var vaultUri = vault.properties.vaultUri
var baseAppSettings = {
  CONNECTOR_CONFIG: connectorConfigPath
  // gunicorn.conf.py binds here; App Service forwards port 8000 (WEBSITES_PORT).
  CONNECTOR_BIND: '0.0.0.0:8000'
  WEBSITES_PORT: '8000'
  CONNECTOR_STORE_URL: usesPostgres ? '@Microsoft.KeyVault(SecretUri=${vaultUri}secrets/${storeUrlSecretName}/)' : sqliteUrl
  SCM_DO_BUILD_DURING_DEPLOYMENT: 'true'
  WEB_CONCURRENCY: string(gunicornWorkers)
  CONNECTOR_WORKERS: string(gunicornWorkers)
  PYTHONUNBUFFERED: '1'
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.appInsightsConnectionString
}
var basicPasswordSetting = {
  CONNECTOR_BASIC_PASSWORD: '@Microsoft.KeyVault(SecretUri=${vaultUri}secrets/${basicPasswordSecretName}/)'
}
var inviteKeySetting = {
  CONNECTOR_INVITE_KEY: '@Microsoft.KeyVault(SecretUri=${vaultUri}secrets/${inviteKeySecretName}/)'
}
var appSettings = union(
  baseAppSettings,
  empty(basicPasswordSecretName) ? {} : basicPasswordSetting,
  empty(inviteKeySecretName) ? {} : inviteKeySetting
)

// ---------------------------------------------------------------- resources

module monitoring 'modules/monitoring.bicep' = {
  name: '${deployment().name}-monitoring'
  params: {
    workspaceName: '${namePrefix}-logs-${suffix}'
    appInsightsName: '${namePrefix}-ai-${suffix}'
    location: location
    retentionInDays: logRetentionInDays
    tags: tags
  }
}

module app 'modules/app-service.bicep' = {
  name: '${deployment().name}-app'
  params: {
    planName: '${namePrefix}-plan-${suffix}'
    name: webAppName
    location: location
    skuName: appServicePlanSku
    skuCapacity: appServicePlanCapacity
    pythonVersion: pythonVersion
    appSettings: appSettings
    workspaceResourceId: monitoring.outputs.resourceId
    tags: tags
  }
}

module appKeyVaultAccess 'modules/key-vault-role-assignment.bicep' = {
  name: '${deployment().name}-kv-app'
  scope: resourceGroup(keyVaultResourceGroupName)
  params: {
    keyVaultName: keyVaultName
    principalId: app.outputs.systemAssignedMIPrincipalId
  }
}

module apimService 'modules/apim-service.bicep' = if (deployApiManagement) {
  name: '${deployment().name}-apim'
  params: {
    name: apimName
    location: location
    skuName: apimSkuName
    publisherEmail: apimPublisherEmail
    publisherName: apimPublisherName
    workspaceResourceId: monitoring.outputs.resourceId
    tags: tags
  }
}

module apimKeyVaultAccess 'modules/key-vault-role-assignment.bicep' = if (deployApiManagement) {
  name: '${deployment().name}-kv-apim'
  scope: resourceGroup(keyVaultResourceGroupName)
  params: {
    keyVaultName: keyVaultName
    principalId: apimService.outputs.systemAssignedMIPrincipalId
  }
}

module apimApi 'modules/apim-api.bicep' = if (deployApiManagement) {
  name: '${deployment().name}-apim-api'
  params: {
    serviceName: apimService.outputs.name
    operations: apiOperations
    backendUrl: 'https://${app.outputs.defaultHostname}'
    backendCertificateName: apimBackendCertificateName
    backendCertificateId: apimBackendCertificateId
    keyVaultUri: vaultUri
    secretNamedValues: secretNamedValues
    plainNamedValues: plainNamedValues
    namedValueValues: apimNamedValues
    policyXml: apiPolicyXml
  }
  // API Management reads Key Vault when it creates Key Vault-backed named values and
  // certificates: the role assignment must exist first.
  dependsOn: [
    apimKeyVaultAccess
  ]
}

module postgres 'modules/postgresql.bicep' = if (usesPostgres) {
  name: '${deployment().name}-postgres'
  params: {
    name: postgresName
    location: location
    administratorLogin: postgresAdministratorLogin
    administratorLoginPassword: postgresAdministratorPassword
    allowedIpAddresses: app.outputs.possibleOutboundIpAddresses
    tags: tags
  }
}

module storeUrlSecret 'modules/key-vault-secret.bicep' = if (usesPostgres) {
  name: '${deployment().name}-kv-store-url'
  scope: resourceGroup(keyVaultResourceGroupName)
  params: {
    keyVaultName: keyVaultName
    name: storeUrlSecretName
    value: 'postgresql://${uriComponent(postgresAdministratorLogin)}:${uriComponent(postgresAdministratorPassword)}@${postgres.outputs.fqdn}:5432/${postgres.outputs.databaseName}?sslmode=require'
  }
}

module certificateExpiryAlert 'modules/certificate-expiry-alert.bicep' = {
  name: '${deployment().name}-cert-alert'
  scope: resourceGroup(keyVaultResourceGroupName)
  params: {
    keyVaultName: keyVaultName
    certificateNames: union([
      certificateName
    ], [
      apimBackendCertificateName
    ])
    alertEmails: alertEmails
    actionGroupName: '${namePrefix}-cert-expiry'
    tags: tags
  }
}

// ---------------------------------------------------------------- outputs

@description('The resource ID of the web app.')
output resourceId string = app.outputs.resourceId

@description('The name of the web app.')
output name string = app.outputs.name

@description('HTTPS base URL of the web app.')
output webAppUrl string = 'https://${app.outputs.defaultHostname}'

@description('Base URL Entra calls: the API Management gateway, or the web app without it.')
output connectorBaseUrl string = deployApiManagement ? apimService.outputs.gatewayUrl : 'https://${app.outputs.defaultHostname}'

@description('The name of the API Management service (empty without it).')
output apimName string = deployApiManagement ? apimService.outputs.name : ''

@description('The resource ID of the Log Analytics workspace receiving the app\'s logs.')
output workspaceResourceId string = monitoring.outputs.resourceId
