// App Service (Linux, Python 3.11) running `contact-center serve`, with every setting the
// app reads. The health check pings /healthz, which answers 503 until the host is ready;
// Always On keeps the timers and the calling webhook warm.

@description('Azure region of the plan and the app.')
param location string

@description('Name of the App Service plan.')
param planName string

@description('Name of the web app; its default host is <name>.azurewebsites.net.')
param siteName string

@description('App Service plan SKU (Basic or above: Always On and health checks need it).')
param skuName string

@description('Number of instances (stateless hosts sharing one Cosmos DB account).')
@minValue(1)
param instanceCount int

@description('Resource id of the user-assigned managed identity the app runs as.')
param identityId string

@description('Client id of that identity (AZURE_CLIENT_ID for azure-identity).')
param identityClientId string

@description('The https origin Graph and Teams reach the app at.')
param publicBaseUrl string

@description('Client id of the bot\'s Entra app registration.')
param botAppId string

@description('Tenant of the bot\'s (single-tenant) app registration.')
param botTenantId string

@description('Key Vault secret URI of the bot\'s client secret.')
param botPasswordSecretUri string

@description('Entra app the tab\'s SSO tokens are issued for, when not the bot\'s own.')
param tabClientId string

@description('Id of the Teams app in the org app catalog (TEAMS_APP_CATALOG_ID); empty: looked up.')
param teamsAppCatalogId string

@description('Comma-separated object ids of the first admins.')
param adminObjectIds string

@description('Cosmos DB account endpoint.')
param cosmosEndpoint string

@description('Cosmos DB database name.')
param cosmosDatabaseName string

@description('Blob service endpoint of the media storage account.')
param blobAccountUrl string

@description('Application Insights connection string.')
param appInsightsConnectionString string

@description('Log Analytics workspace that receives the app\'s platform logs.')
param workspaceId string

@allowed([
  'DEBUG'
  'INFO'
  'WARNING'
  'ERROR'
])
param logLevel string

param tags object = {}

// App Service's persistent, shared storage: survives restarts and redeployments (the app
// folder itself is replaced on every deployment).
var dataDir = '/home/data'
var port = '8000'

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'linux'
  sku: {
    name: skuName
    capacity: instanceCount
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2023-12-01' = {
  name: siteName
  location: location
  tags: tags
  kind: 'app,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      linuxFxVersion: 'PYTHON|3.11'
      appCommandLine: 'contact-center serve --host 0.0.0.0 --port ${port}'
      alwaysOn: true
      healthCheckPath: '/healthz'
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        // Read by the app (bot/settings.py).
        {
          name: 'MICROSOFT_APP_ID'
          value: botAppId
        }
        {
          name: 'MICROSOFT_APP_PASSWORD'
          value: '@Microsoft.KeyVault(SecretUri=${botPasswordSecretUri})'
        }
        {
          name: 'MICROSOFT_APP_TENANT_ID'
          value: botTenantId
        }
        {
          name: 'MICROSOFT_APP_TYPE'
          value: 'SingleTenant'
        }
        {
          name: 'TAB_CLIENT_ID'
          value: tabClientId
        }
        {
          name: 'PUBLIC_BASE_URL'
          value: publicBaseUrl
        }
        {
          name: 'TEAMS_APP_CATALOG_ID'
          value: teamsAppCatalogId
        }
        {
          name: 'ADMIN_OBJECT_IDS'
          value: adminObjectIds
        }
        {
          name: 'COSMOS_ENDPOINT'
          value: cosmosEndpoint
        }
        {
          name: 'COSMOS_DATABASE'
          value: cosmosDatabaseName
        }
        {
          name: 'BLOB_ACCOUNT_URL'
          value: blobAccountUrl
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsightsConnectionString
        }
        {
          name: 'DATA_DIR'
          value: dataDir
        }
        {
          name: 'LOG_LEVEL'
          value: logLevel
        }
        {
          name: 'LOG_FORMAT'
          value: 'json'
        }
        // Read by azure-identity: which user-assigned identity to sign in as.
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
        // App Service platform.
        {
          name: 'SCM_DO_BUILD_DURING_DEPLOYMENT'
          value: 'true'
        }
        {
          name: 'WEBSITES_PORT'
          value: port
        }
      ]
    }
  }
}

// No FTP publishing: deployments go through `az webapp deploy` with Entra sign-in.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: site
  properties: {
    workspaceId: workspaceId
    logs: [
      {
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

output siteName string = site.name
output defaultHostName string = site.properties.defaultHostName
