    return module.exports;
  }
