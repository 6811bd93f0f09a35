// Expiry is never a surprise: Key Vault publishes CertificateNearExpiry (30 days before) and
// CertificateExpired through Event Grid; an event subscription turns them into Azure Monitor
// alerts that notify the action group. Independent of the app: it covers the certificate
// Entra presents even while nobody calls the connector. Deployed in the vault's resource group.
// Key Vault raises these events only for certificate versions created after the subscription
// exists: deploy this module before creating the certificate (docs/deploy.md, step 3).

metadata name = 'Certificate expiry alert'
metadata description = 'Key Vault near-expiry and expired events routed to an action group.'

@description('Required. Name of the existing Key Vault (in this module\'s resource group) holding the certificates.')
param keyVaultName string

@description('Required. Names of the Key Vault certificates to watch.')
@minLength(1)
param certificateNames array

@description('Required. E-mail addresses notified when a watched certificate nears expiry or expires.')
@minLength(1)
param alertEmails array

@description('Required. Name of the action group.')
param actionGroupName string

@description('Optional. Short name of the action group (shown in e-mails and SMS, at most 12 characters).')
@maxLength(12)
param actionGroupShortName string = 'certexpiry'

@description('Optional. Name of the Event Grid system topic of the vault. A vault has at most one system topic: give the existing one\'s name when the vault already has one.')
param systemTopicName string = '${keyVaultName}-events'

@description('Optional. Severity of the alerts.')
@allowed([
  'Sev0'
  'Sev1'
  'Sev2'
  'Sev3'
  'Sev4'
])
param severity string = 'Sev1'

@description('Optional. Tags of the resources.')
param tags object = {}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: actionGroupShortName
    enabled: true
    emailReceivers: [for (email, i) in alertEmails: {
      name: 'email-${i}'
      emailAddress: email
      useCommonAlertSchema: true
    }]
  }
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: vault.location
  tags: tags
  properties: {
    source: vault.id
    topicType: 'Microsoft.KeyVault.vaults'
  }
}

// The Azure Monitor alert destination exists only in the preview API versions so far.
resource expirySubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2023-12-15-preview' = {
  parent: systemTopic
  name: 'connector-certificate-expiry'
  properties: {
    eventDeliverySchema: 'CloudEventSchemaV1_0'
    filter: {
      includedEventTypes: [
        'Microsoft.KeyVault.CertificateNearExpiry'
        'Microsoft.KeyVault.CertificateExpired'
      ]
      advancedFilters: [
        {
          // The event subject is the certificate's name.
          operatorType: 'StringIn'
          key: 'subject'
          values: certificateNames
        }
      ]
    }
    destination: {
      endpointType: 'MonitorAlert'
      properties: {
        severity: severity
        description: 'An API connector certificate in Key Vault ${keyVaultName} expires within 30 days (or has expired). Roll it over: docs/deploy.md, "Certificate rollover".'
        actionGroups: [
          actionGroup.id
        ]
      }
    }
  }
}

@description('The resource ID of the action group.')
output resourceId string = actionGroup.id

@description('The name of the action group.')
output name string = actionGroup.name

@description('The resource ID of the Event Grid system topic.')
output systemTopicResourceId string = systemTopic.id
