// Key Vault (RBAC authorization) holding the bot's client secret. The web app reads it
// through a Key Vault reference in its app settings, as its managed identity, which gets
// "Key Vault Secrets User" on this vault only.

@description('Azure region of the vault.')
param location string

@description('Name of the vault (3-24 letters, digits, hyphens; globally unique).')
param vaultName string

@description('Client secret of the bot\'s Entra app registration.')
@secure()
param botAppPassword string

@description('Principal (object) id of the managed identity that reads the secret.')
param readerPrincipalId string

@description('Purge protection cannot be turned off again, and it keeps a deleted vault\'s name taken for 90 days.')
param purgeProtection bool = false

param tags object = {}

// Built-in role "Key Vault Secrets User".
var secretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: vaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: purgeProtection ? true : null
    publicNetworkAccess: 'Enabled'
  }
}

resource botSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'bot-app-password'
  properties: {
    value: botAppPassword
    contentType: 'Client secret of the bot app registration (MICROSOFT_APP_PASSWORD)'
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, readerPrincipalId, secretsUserRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output vaultName string = vault.name
output botPasswordSecretUri string = botSecret.properties.secretUri
