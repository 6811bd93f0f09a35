// Log Analytics workspace and workspace-based Application Insights for the connector.
// The web app's console, application, HTTP and platform logs land in the workspace
// through a diagnostic setting declared in app-service.bicep.

metadata name = 'Connector monitoring'
metadata description = 'Log Analytics workspace and workspace-based Application Insights.'

@description('Required. Name of the Log Analytics workspace.')
@minLength(4)
@maxLength(63)
param workspaceName string

@description('Required. Name of the Application Insights component.')
@minLength(1)
@maxLength(260)
param appInsightsName string

@description('Optional. Location for all resources.')
param location string = resourceGroup().location

@description('Optional. Days the workspace keeps logs (30 is free with PerGB2018).')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

@description('Optional. Tags of the resources.')
param tags object = {}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      // Only principals with rights on a resource read that resource's logs.
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

@description('The resource ID of the Log Analytics workspace.')
output resourceId string = workspace.id

@description('The name of the Log Analytics workspace.')
output name string = workspace.name

@description('The resource ID of the Application Insights component.')
output appInsightsResourceId string = appInsights.id

@description('The name of the Application Insights component.')
output appInsightsName string = appInsights.name

@description('The Application Insights connection string (not a secret: it only allows ingestion).')
output appInsightsConnectionString string = appInsights.properties.ConnectionString
