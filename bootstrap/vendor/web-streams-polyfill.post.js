    return module.exports;
  })
