return DiffusionSharp.Cli.DiffuseApp.Run(args);
