// The web app's user-assigned managed identity: it reads the bot secret from Key Vault and
// reaches Cosmos DB and Blob Storage with Entra tokens (no keys anywhere).

@description('Azure region of the identity.')
param location string

@description('Name of the user-assigned managed identity.')
param name string

param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
