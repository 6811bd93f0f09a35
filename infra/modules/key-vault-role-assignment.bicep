// One role assignment on an existing Key Vault (RBAC permission model). Deployed in the
// vault's resource group, once per managed identity that reads the vault.

metadata name = 'Key Vault role assignment'
metadata description = 'Grants a principal a built-in role on an existing Key Vault.'

@description('Required. Name of the existing Key Vault (in this module\'s resource group).')
param keyVaultName string

@description('Required. Object (principal) ID receiving the role.')
param principalId string

@description('Optional. Built-in role granted. Key Vault Secrets User reads secrets and the secret side of certificates, which is all App Service references and API Management need.')
@allowed([
  'Key Vault Secrets User'
  'Key Vault Certificate User'
])
param roleName string = 'Key Vault Secrets User'

@description('Optional. Type of the principal (a managed identity is a ServicePrincipal).')
@allowed([
  'ServicePrincipal'
  'User'
  'Group'
])
param principalType string = 'ServicePrincipal'

var builtInRoleIds = {
  'Key Vault Secrets User': '4633458b-17de-408a-b874-0445c86b69e6'
  'Key Vault Certificate User': 'db79e9a7-68ee-4b58-9aeb-b90e7c24fcba'
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource roleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  // Deterministic name: re-deploying never duplicates the assignment.
  name: guid(vault.id, principalId, builtInRoleIds[roleName])
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoleIds[roleName])
    principalId: principalId
    principalType: principalType
  }
}

@description('The resource ID of the role assignment.')
output resourceId string = roleAssignment.id

@description('The name of the role assignment.')
output name string = roleAssignment.name
