// Contact Center for Microsoft Teams: one organization's deployment into its own
// subscription (docs/deploy.md). Deploy into a resource group:
//
//   az deployment group create --resource-group <rg> --template-file infra/main.bicep \
//     --parameters infra/main.parameters.json --parameters botAppId=<client-id>
//
// The bot's client secret is a secure parameter: az prompts for it when it is not given.

targetScope = 'resourceGroup'

@description('Short name that prefixes every resource name.')
@minLength(2)
@maxLength(12)
param namePrefix string = 'contactctr'

@description('Azure region for everything but the bot registration (which is global).')
param location string = resourceGroup().location

@description('Client id of the bot\'s single-tenant Entra app registration (MICROSOFT_APP_ID).')
@minLength(36)
@maxLength(36)
param botAppId string

@description('Client secret of that app registration; stored in Key Vault only.')
@secure()
param botAppPassword string

@description('Tenant of the app registration; the deploying tenant by default.')
param botTenantId string = tenant().tenantId

@description('Entra app the tab\'s SSO tokens are issued for, when not the bot\'s own (TAB_CLIENT_ID). Empty: the bot\'s app.')
param tabClientId string = ''

@description('Id of the Teams app in the org app catalog, when an admin uploaded it there (TEAMS_APP_CATALOG_ID). Empty: looked up by botAppId, the manifest id.')
param teamsAppCatalogId string = ''

@description('Comma-separated Entra object ids of the first admins (ADMIN_OBJECT_IDS).')
param adminObjectIds string = ''

@description('A custom host name already bound to the web app, e.g. contact.contoso.com. Empty: <app>.azurewebsites.net.')
param customHostName string = ''

@description('App Service plan SKU. Basic (B1) or above; P0v3 or above for production.')
param appServiceSku string = 'P0v3'

@description('Number of web app instances.')
@minValue(1)
@maxValue(10)
param instanceCount int = 1

@description('Cosmos DB capacity: Serverless (default) or Provisioned autoscale throughput.')
@allowed([
  'Serverless'
  'Provisioned'
])
param cosmosCapacityMode string = 'Serverless'

@description('Autoscale maximum RU/s shared by the database when cosmosCapacityMode is Provisioned.')
@minValue(1000)
param cosmosAutoscaleMaxThroughput int = 1000

@description('Azure Bot pricing tier; F0 is free for the Teams channel.')
@allowed([
  'F0'
  'S1'
])
param botSku string = 'F0'

@description('Turn on Key Vault purge protection (irreversible; see docs/deploy.md).')
param keyVaultPurgeProtection bool = false

@allowed([
  'DEBUG'
  'INFO'
  'WARNING'
  'ERROR'
])
param logLevel string = 'INFO'

param tags object = {
  application: 'contact-center-teams'
}

var suffix = take(uniqueString(resourceGroup().id, namePrefix), 8)
var siteName = '${namePrefix}-${suffix}'
var hostName = empty(customHostName) ? '${siteName}.azurewebsites.net' : customHostName
var publicBaseUrl = 'https://${hostName}'
var cosmosDatabaseName = 'contactcenter'
var mediaContainerName = 'media'
// One container per document collection (contactcenter/repository.py: Repository).
var cosmosContainers = [
  {
    name: 'tenants'
    perItemTtl: false
  }
  {
    name: 'users'
    perItemTtl: false
  }
  {
    name: 'queues'
    perItemTtl: false
  }
  {
    name: 'agents'
    perItemTtl: false
  }
  {
    name: 'bindings'
    perItemTtl: false
  }
  {
    name: 'calls'
    perItemTtl: false
  }
  {
    name: 'seats'
    perItemTtl: false
  }
  {
    name: 'auditLog'
    perItemTtl: false
  }
  {
    name: 'subscriptions'
    perItemTtl: false
  }
  {
    name: 'conversationRefs'
    perItemTtl: false
  }
  {
    name: 'teams'
    perItemTtl: false
  }
  {
    name: 'offerCards'
    perItemTtl: true
  }
  {
    name: 'queueCards'
    perItemTtl: false
  }
  {
    name: 'noticeCards'
    perItemTtl: true
  }
  {
    name: 'callRecords'
    perItemTtl: true
  }
  {
    name: 'ivrs'
    perItemTtl: false
  }
  {
    name: 'callerLists'
    perItemTtl: false
  }
  {
    name: 'prompts'
    perItemTtl: false
  }
  {
    name: 'voicemails'
    perItemTtl: false
  }
  {
    name: 'callbacks'
    perItemTtl: false
  }
  {
    name: 'intervalAggregates'
    perItemTtl: false
  }
  {
    name: 'agentIntervalAggregates'
    perItemTtl: false
  }
  {
    name: 'leases'
    perItemTtl: false
  }
  {
    name: 'webhookEndpoints'
    perItemTtl: false
  }
  {
    name: 'webhookOutbox'
    perItemTtl: false
  }
  {
    name: 'queueAlertRules'
    perItemTtl: false
  }
  {
    name: 'membershipSyncs'
    perItemTtl: false
  }
  {
    name: 'whatIfRuns'
    perItemTtl: false
  }
]

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    workspaceName: '${namePrefix}-logs-${suffix}'
    appInsightsName: '${namePrefix}-ai-${suffix}'
    tags: tags
  }
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    location: location
    name: '${namePrefix}-id-${suffix}'
    tags: tags
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  params: {
    location: location
    accountName: toLower('${namePrefix}-cosmos-${suffix}')
    databaseName: cosmosDatabaseName
    containers: cosmosContainers
    capacityMode: cosmosCapacityMode
    autoscaleMaxThroughput: cosmosAutoscaleMaxThroughput
    dataPrincipalId: identity.outputs.principalId
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    accountName: toLower(take('${replace(namePrefix, '-', '')}st${uniqueString(resourceGroup().id)}', 24))
    mediaContainerName: mediaContainerName
    dataPrincipalId: identity.outputs.principalId
    tags: tags
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyVault'
  params: {
    location: location
    vaultName: take('${namePrefix}-kv-${suffix}', 24)
    botAppPassword: botAppPassword
    readerPrincipalId: identity.outputs.principalId
    purgeProtection: keyVaultPurgeProtection
    tags: tags
  }
}

module webApp 'modules/webapp.bicep' = {
  name: 'webApp'
  params: {
    location: location
    planName: '${namePrefix}-plan-${suffix}'
    siteName: siteName
    skuName: appServiceSku
    instanceCount: instanceCount
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    publicBaseUrl: publicBaseUrl
    botAppId: botAppId
    botTenantId: botTenantId
    botPasswordSecretUri: keyVault.outputs.botPasswordSecretUri
    tabClientId: tabClientId
    teamsAppCatalogId: teamsAppCatalogId
    adminObjectIds: adminObjectIds
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabaseName: cosmos.outputs.databaseName
    blobAccountUrl: storage.outputs.blobEndpoint
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    workspaceId: monitoring.outputs.workspaceId
    logLevel: logLevel
    tags: tags
  }
}

module bot 'modules/bot.bicep' = {
  name: 'bot'
  params: {
    name: '${namePrefix}-bot-${suffix}'
    displayName: 'Contact Center'
    botAppId: botAppId
    botTenantId: botTenantId
    publicBaseUrl: publicBaseUrl
    sku: botSku
    tags: tags
  }
}

@description('The https origin to use as PUBLIC_BASE_URL when running `contact-center package`.')
output publicBaseUrl string = publicBaseUrl
output webAppName string = webApp.outputs.siteName
output webAppDefaultHostName string = webApp.outputs.defaultHostName
output botName string = bot.outputs.name
output botMessagingEndpoint string = bot.outputs.messagingEndpoint
output keyVaultName string = keyVault.outputs.vaultName
output mediaContainerName string = storage.outputs.mediaContainerName
