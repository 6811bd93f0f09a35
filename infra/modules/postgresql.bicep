// PostgreSQL Flexible Server for the connector's store (invitation codes, idempotency).
// Only the web app's outbound addresses pass the firewall; TLS is required; the connection
// URL goes to Key Vault (key-vault-secret.bicep), never to an app setting in clear.

metadata name = 'Connector PostgreSQL store'
metadata description = 'PostgreSQL Flexible Server, its database and firewall rules for the web app.'

@description('Required. Name of the server (globally unique, becomes <name>.postgres.database.azure.com).')
@minLength(3)
@maxLength(63)
param name string

@description('Optional. Location for all resources.')
param location string = resourceGroup().location

@description('Optional. Compute SKU name.')
param skuName string = 'Standard_B1ms'

@description('Optional. Compute tier of the SKU.')
@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param skuTier string = 'Burstable'

@description('Optional. PostgreSQL major version.')
@allowed([
  '15'
  '16'
  '17'
])
param version string = '16'

@description('Optional. Storage size in GB.')
@minValue(32)
param storageSizeGB int = 32

@description('Required. Administrator login name.')
@minLength(1)
param administratorLogin string

@description('Required. Administrator password. Supply it from the environment (readEnvironmentVariable in the .bicepparam), never in a file.')
@secure()
@minLength(12)
param administratorLoginPassword string

@description('Optional. Name of the connector\'s database.')
param databaseName string = 'connector'

@description('Required. IPv4 addresses allowed through the firewall: the web app\'s possible outbound addresses.')
param allowedIpAddresses array

@description('Optional. Tags of the resources.')
param tags object = {}

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: version
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorLoginPassword
    storage: {
      storageSizeGB: storageSizeGB
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    authConfig: {
      activeDirectoryAuth: 'Disabled'
      passwordAuth: 'Enabled'
    }
    network: {
      // Public endpoint restricted to the app's addresses below; VNet integration needs a
      // Standard plan or higher and is left to the operator.
      publicNetworkAccess: 'Enabled'
    }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

resource requireTls 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'require_secure_transport'
  properties: {
    value: 'ON'
    source: 'user-override'
  }
}

@batchSize(1)
resource appFirewallRules 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = [for (ip, i) in allowedIpAddresses: {
  parent: server
  name: 'web-app-outbound-${i}'
  properties: {
    startIpAddress: ip
    endIpAddress: ip
  }
  // The server accepts one management operation at a time.
  dependsOn: [
    database
    requireTls
  ]
}]

@description('The resource ID of the server.')
output resourceId string = server.id

@description('The name of the server.')
output name string = server.name

@description('The fully qualified domain name of the server.')
output fqdn string = server.properties.fullyQualifiedDomainName

@description('The name of the database.')
output databaseName string = database.name
