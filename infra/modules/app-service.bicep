// Linux App Service plan and the connector's Python web app.
// Security posture (REFERENCE §4): the front end demands a client certificate on every
// request (`Required`, no exclusion paths, so no TLS renegotiation), HTTPS only, TLS 1.2+,
// no FTP, no basic publishing credentials, a system identity that resolves Key Vault
// references. The start command is fixed: the repository's gunicorn configuration.

metadata name = 'Connector web app'
metadata description = 'Linux App Service plan and Python web app serving the API connector.'

@description('Required. Name of the App Service plan.')
@minLength(1)
@maxLength(60)
param planName string

@description('Required. Name of the web app (also the default host name prefix).')
@minLength(2)
@maxLength(60)
param name string

@description('Optional. Location for all resources.')
param location string = resourceGroup().location

@description('Optional. Plan SKU. Client certificates need Basic or higher, so Free and Shared are not offered.')
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
param skuName string = 'B1'

@description('Optional. Number of plan instances. SQLite stores need exactly 1.')
@minValue(1)
@maxValue(30)
param skuCapacity int = 1

@description('Optional. Python runtime version of the Linux image.')
@allowed([
  '3.11'
  '3.12'
  '3.13'
])
param pythonVersion string = '3.12'

@description('Required. App settings as an object of name to value; secrets only as Key Vault references.')
param appSettings object

@description('Optional. Resource ID of a Log Analytics workspace receiving the app\'s console, HTTP and platform logs. Empty: no diagnostic setting.')
param workspaceResourceId string = ''

@description('Optional. Tags of the resources.')
param tags object = {}

// The start command from this repository; App Service silently serves a default app when
// it is wrong (REFERENCE §4), so it is a literal, not a parameter.
var startCommand = 'gunicorn -c gunicorn.conf.py wsgi:app'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'linux'
  sku: {
    name: skuName
    capacity: skuCapacity
  }
  properties: {
    //checkov:skip=CKV_AZURE_225:Zone redundancy needs a Premium v2/v3 plan with at least three instances; the product's minimum is Basic (mutual TLS) and SQLite needs one instance. Choose a P*v3 SKU and add zoneRedundant for production HA.
    reserved: true
    zoneRedundant: false
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'app,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    //checkov:skip=CKV_AZURE_16:App Service Authentication (Easy Auth) expects Entra bearer tokens; Entra API connectors call with HTTP basic or a client certificate, which the app validates itself (SPEC §3), so Easy Auth would reject every legitimate call.
    //checkov:skip=CKV_AZURE_222:Entra (or the API Management gateway, which has no fixed VNet in the Consumption and v2 Basic tiers) calls the connector over the public internet; access is gated by a required client certificate at the front end and by the app's own authentication.
    //checkov:skip=CKV_AZURE_212:Instance count is the plan's sku.capacity (parameter skuCapacity), not siteConfig.numberOfWorkers; the SQLite store needs a single instance, PostgreSQL deployments should set skuCapacity to 2 or more.
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: true
    clientCertMode: 'Required'
    clientAffinityEnabled: false
    keyVaultReferenceIdentity: 'SystemAssigned'
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      linuxFxVersion: 'PYTHON|${pythonVersion}'
      appCommandLine: startCommand
      alwaysOn: true
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
      healthCheckPath: '/healthz'
      remoteDebuggingEnabled: false
      use32BitWorkerProcess: false
      appSettings: [for setting in items(appSettings): {
        name: setting.key
        value: setting.value
      }]
    }
  }
}

// Basic (user/password) publishing credentials stay off for both FTP and the SCM site:
// deployments authenticate with Entra ID (az webapp deploy).
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!empty(workspaceResourceId)) {
  name: 'to-log-analytics'
  scope: site
  properties: {
    workspaceId: workspaceResourceId
    logs: [
      {
        // gunicorn's and the app's stdout/stderr: decision lines, expiry warnings, errors.
        category: 'AppServiceConsoleLogs'
        enabled: true
      }
      {
        category: 'AppServiceHTTPLogs'
        enabled: true
      }
      {
        category: 'AppServicePlatformLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

@description('The resource ID of the web app.')
output resourceId string = site.id

@description('The name of the web app.')
output name string = site.name

@description('The resource ID of the App Service plan.')
output planResourceId string = plan.id

@description('The default host name of the web app.')
output defaultHostname string = site.properties.defaultHostName

@description('The principal ID of the web app\'s system-assigned identity.')
output systemAssignedMIPrincipalId string = site.identity.principalId

@description('Every outbound IP address the app may use (for database firewall rules).')
output possibleOutboundIpAddresses array = split(site.properties.possibleOutboundIpAddresses, ',')
