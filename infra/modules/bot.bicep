// The Azure Bot registration (single-tenant) and its Microsoft Teams channel with calling
// on: Teams messages go to /api/messages, Graph's calling notifications to /api/calling.

@description('Name (handle) of the Azure Bot resource; globally unique.')
param name string

@description('Display name of the bot.')
param displayName string

@description('Client id of the bot\'s Entra app registration.')
param botAppId string

@description('Tenant of that (single-tenant) app registration.')
param botTenantId string

@description('The https origin the host is reached at.')
param publicBaseUrl string

@description('F0 is free for the Teams channel (a standard channel); S1 only adds premium channels.')
@allowed([
  'F0'
  'S1'
])
param sku string = 'F0'

param tags object = {}

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: name
  location: 'global'
  tags: tags
  kind: 'azurebot'
  sku: {
    name: sku
  }
  properties: {
    displayName: displayName
    endpoint: '${publicBaseUrl}/api/messages'
    msaAppId: botAppId
    msaAppType: 'SingleTenant'
    msaAppTenantId: botTenantId
    disableLocalAuth: false
    publicNetworkAccess: 'Enabled'
    schemaTransformationVersion: '1.3'
  }
}

resource teams 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: {
      isEnabled: true
      enableCalling: true
      callingWebhook: '${publicBaseUrl}/api/calling'
      deploymentEnvironment: 'CommercialDeployment'
      acceptedTerms: true
    }
  }
}

output name string = bot.name
output messagingEndpoint string = bot.properties.endpoint
