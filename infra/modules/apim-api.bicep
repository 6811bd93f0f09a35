// The connector API inside an existing API Management service: named values (Key
// Vault-backed for secrets), the backend with its client certificate, the API, its
// operations and the rendered API-scope policy. The service identity must already be able
// to read the vault (main.bicep orders this after the role assignment): APIM fetches Key
// Vault secrets and certificates when the entities are created.

metadata name = 'Connector API on API Management'
metadata description = 'API, operations, named values, backend with credential and the rendered policy.'

@description('Required. Name of the existing API Management service.')
param serviceName string

@description('Optional. Name (ID) of the API.')
param apiName string = 'entra-api-connector'

@description('Optional. Display name of the API.')
param apiDisplayName string = 'Entra API connector'

@description('Optional. URL suffix of the API on the gateway. Empty keeps gateway paths identical to the app\'s (/api/connector/...).')
param apiPath string = ''

@description('Required. Operations of the API: objects {name, displayName, urlTemplate, description}; all are POST. The policy selects operations by name (the custom authentication extension ones).')
@minLength(1)
param operations array

@description('Required. HTTPS base URL of the connector web app (the backend).')
param backendUrl string

@description('Optional. ID of the backend entity; the policy selects it with set-backend-service backend-id.')
param backendId string = 'connector-backend'

@description('Optional. Name of the Key Vault certificate API Management presents to the backend (App Service requires a client certificate). Empty: the backend gets no certificate.')
param backendCertificateName string = ''

@description('Optional. ID of the API Management certificate entity made from backendCertificateName.')
param backendCertificateId string = 'connector-backend-client'

@description('Required. Vault URI of the Key Vault (https://<vault>.vault.azure.net/) holding secret named values and the backend certificate.')
param keyVaultUri string

@description('Required. Secret named values the policy references, as rendered in named-values.json: objects {name, secret, description, keyVaultSecretName}.')
param secretNamedValues array

@description('Required. Non-secret named values the policy references, as rendered in named-values.json: objects {name, secret, description, keyVaultSecretName}.')
param plainNamedValues array

@description('Optional. Values of the non-secret named values, by name. Secret named values come from Key Vault only.')
param namedValueValues object = {}

@description('Required. The rendered API-scope policy document (XML, loaded with loadTextContent).')
@minLength(1)
param policyXml string

resource service 'Microsoft.ApiManagement/service@2024-05-01' existing = {
  name: serviceName
}

// Secrets never pass through the template: the gateway reads them from Key Vault with its
// system identity (identityClientId null), and picks up new versions by itself.
resource keyVaultNamedValues 'Microsoft.ApiManagement/service/namedValues@2024-05-01' = [for nv in secretNamedValues: {
  parent: service
  name: nv.name
  properties: {
    displayName: nv.name
    secret: true
    keyVault: {
      secretIdentifier: '${keyVaultUri}secrets/${nv.keyVaultSecretName}'
      identityClientId: null
    }
  }
}]

resource valueNamedValues 'Microsoft.ApiManagement/service/namedValues@2024-05-01' = [for nv in plainNamedValues: {
  parent: service
  name: nv.name
  properties: {
    displayName: nv.name
    secret: false
    value: contains(namedValueValues, nv.name) ? namedValueValues[nv.name] : ''
  }
}]

resource backendCertificate 'Microsoft.ApiManagement/service/certificates@2024-05-01' = if (!empty(backendCertificateName)) {
  parent: service
  name: backendCertificateId
  properties: {
    keyVault: {
      // Versionless: API Management follows certificate rollover in Key Vault by itself.
      secretIdentifier: '${keyVaultUri}secrets/${backendCertificateName}'
      identityClientId: null
    }
  }
}

resource backend 'Microsoft.ApiManagement/service/backends@2024-05-01' = {
  parent: service
  name: backendId
  properties: {
    description: 'Connector web app (App Service, client certificate required)'
    url: backendUrl
    protocol: 'http'
    tls: {
      validateCertificateChain: true
      validateCertificateName: true
    }
    credentials: empty(backendCertificateName) ? {} : {
      certificateIds: [
        backendCertificate.id
      ]
    }
  }
}

resource api 'Microsoft.ApiManagement/service/apis@2024-05-01' = {
  parent: service
  name: apiName
  properties: {
    displayName: apiDisplayName
    path: apiPath
    protocols: [
      'https'
    ]
    serviceUrl: backendUrl
    // Entra cannot send subscription keys; the policy authenticates every call instead.
    subscriptionRequired: false
    type: 'http'
    apiType: 'http'
  }
}

resource apiOperations 'Microsoft.ApiManagement/service/apis/operations@2024-05-01' = [for op in operations: {
  parent: api
  name: op.name
  properties: {
    displayName: op.displayName
    description: op.description
    method: 'POST'
    urlTemplate: op.urlTemplate
  }
}]

// The policy names {{named values}} and the backend: deploying it before them fails with
// "Cannot find a property" (REFERENCE §5).
resource apiPolicy 'Microsoft.ApiManagement/service/apis/policies@2024-05-01' = {
  parent: api
  name: 'policy'
  properties: {
    format: 'xml'
    value: policyXml
  }
  dependsOn: [
    keyVaultNamedValues
    valueNamedValues
    backend
    backendCertificate
    apiOperations
  ]
}

@description('The resource ID of the API.')
output resourceId string = api.id

@description('The name of the API.')
output name string = api.name

@description('The resource ID of the backend entity.')
output backendResourceId string = backend.id
