// Cosmos DB for NoSQL: the account, the database and one container per document collection.
//
// Every container is partitioned on /tenantId (design: every document carries its tenant).
// Call records expire per item: the container's default TTL is -1 (on, no default expiry),
// so the `ttl` each record carries from its tenant's retention setting applies.
// Local (key) auth is off: the web app signs in with its managed identity, which gets the
// built-in data-plane role "Cosmos DB Built-in Data Contributor" on the account. Data-plane
// roles cannot create databases or containers, so they are all created here.

@description('Azure region of the account.')
param location string

@description('Name of the Cosmos DB account (3-44 lowercase letters, digits, hyphens).')
param accountName string

@description('Name of the database (the app reads it from COSMOS_DATABASE).')
param databaseName string

@description('Containers to create: name, and whether items carry their own TTL.')
param containers array

@description('Serverless (pay per request) or Provisioned (shared autoscale throughput on the database).')
@allowed([
  'Serverless'
  'Provisioned'
])
param capacityMode string = 'Serverless'

@description('Autoscale maximum RU/s of the database when capacityMode is Provisioned.')
@minValue(1000)
param autoscaleMaxThroughput int = 1000

@description('Principal (object) id of the managed identity that reads and writes the data.')
param dataPrincipalId string

param tags object = {}

// Built-in role "Cosmos DB Built-in Data Contributor" (data plane).
var dataContributorRoleId = '00000000-0000-0000-0000-000000000002'

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: accountName
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    capabilities: capacityMode == 'Serverless' ? [
      {
        name: 'EnableServerless'
      }
    ] : []
    disableLocalAuth: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
    options: capacityMode == 'Provisioned' ? {
      autoscaleSettings: {
        maxThroughput: autoscaleMaxThroughput
      }
    } : {}
  }
}

resource collections 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = [for container in containers: {
  parent: database
  name: container.name
  properties: {
    resource: union({
      id: container.name
      partitionKey: {
        paths: [
          '/tenantId'
        ]
        kind: 'Hash'
        version: 2
      }
    }, container.perItemTtl ? {
      defaultTtl: -1
    } : {})
  }
}]

resource dataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = {
  parent: account
  name: guid(account.id, dataPrincipalId, dataContributorRoleId)
  properties: {
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/${dataContributorRoleId}'
    principalId: dataPrincipalId
    scope: account.id
  }
}

output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
