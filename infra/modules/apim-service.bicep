// API Management service that fronts the connector. Client-certificate negotiation is set
// the way each tier needs it (REFERENCE §5): Consumption and v2 tiers take
// `enableClientCertificate` on the service, classic tiers `negotiateClientCertificate` on the
// gateway host name. The API, named values, backend and policy live in apim-api.bicep, which
// is deployed after the service identity can read Key Vault.

metadata name = 'Connector API Management service'
metadata description = 'API Management service with a system identity and client-certificate negotiation.'

@description('Required. Name of the API Management service (also the gateway host name prefix).')
@minLength(1)
@maxLength(50)
param name string

@description('Optional. Location for all resources.')
param location string = resourceGroup().location

@description('Optional. Pricing tier. Consumption and the v2 tiers negotiate client certificates with enableClientCertificate; the classic tiers on the gateway host name.')
@allowed([
  'Consumption'
  'Developer'
  'Basic'
  'Standard'
  'Premium'
  'BasicV2'
  'StandardV2'
])
param skuName string = 'Consumption'

@description('Required. E-mail address of the publisher (receives service notifications).')
@minLength(3)
param publisherEmail string

@description('Required. Name of the publishing organisation.')
@minLength(1)
param publisherName string

@description('Optional. Resource ID of a Log Analytics workspace receiving gateway logs (not available in the Consumption tier). Empty: no diagnostic setting.')
param workspaceResourceId string = ''

@description('Optional. Tags of the resources.')
param tags object = {}

var isConsumption = skuName == 'Consumption'
var isClassicTier = contains([
  'Developer'
  'Basic'
  'Standard'
  'Premium'
], skuName)

// Old protocols and the 3DES cipher stay off on both sides of the gateway. Consumption and v2
// tiers manage protocols themselves and reject these settings.
var classicTierProtocolSettings = {
  'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Protocols.Tls10': 'False'
  'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Protocols.Tls11': 'False'
  'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Protocols.Ssl30': 'False'
  'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Backend.Protocols.Tls10': 'False'
  'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Backend.Protocols.Tls11': 'False'
  'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Backend.Protocols.Ssl30': 'False'
  'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Ciphers.TripleDes168': 'False'
}

// Classic tiers ask for the client certificate during the gateway's TLS handshake.
var classicTierGatewayHostnames = [
  {
    type: 'Proxy'
    hostName: '${name}.azure-api.net'
    certificateSource: 'BuiltIn'
    defaultSslBinding: true
    negotiateClientCertificate: true
  }
]

resource service 'Microsoft.ApiManagement/service@2024-05-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    capacity: isConsumption ? 0 : 1
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    //checkov:skip=CKV_AZURE_174:Entra ID calls the API connector from the public internet and cannot reach a private endpoint; the gateway authenticates every call (validate-client-certificate or basic) before anything reaches the backend.
    //checkov:skip=CKV_AZURE_107:VNet injection is not offered in the Consumption and Basic v2 tiers and would not help: the only caller, Entra ID, comes from the internet. The backend is protected by mutual TLS instead.
    publisherEmail: publisherEmail
    publisherName: publisherName
    publicNetworkAccess: 'Enabled'
    enableClientCertificate: isClassicTier ? null : true
    hostnameConfigurations: isClassicTier ? classicTierGatewayHostnames : null
    customProperties: isClassicTier ? classicTierProtocolSettings : null
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!empty(workspaceResourceId) && !isConsumption) {
  name: 'to-log-analytics'
  scope: service
  properties: {
    workspaceId: workspaceResourceId
    logs: [
      {
        category: 'GatewayLogs'
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

@description('The resource ID of the API Management service.')
output resourceId string = service.id

@description('The name of the API Management service.')
output name string = service.name

@description('The gateway URL Entra calls (https://<name>.azure-api.net).')
output gatewayUrl string = service.properties.gatewayUrl

@description('The principal ID of the service\'s system-assigned identity.')
output systemAssignedMIPrincipalId string = service.identity.principalId
